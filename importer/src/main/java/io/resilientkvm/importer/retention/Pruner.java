package io.resilientkvm.importer.retention;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.backup.VerifyReport;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.importer.restore.Hold;
import io.resilientkvm.importer.restore.Holds;
import io.resilientkvm.importer.restore.RepositoryLock;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a {@link RetentionPolicy} to a repository, one disk at a time: under the repository
 * lock taken exclusive (so never during a restore), it reads the chains and holds, verifies
 * newer chains as far as needed, plans ({@link RetentionPlanner}) and removes the chains the
 * plan names: each is renamed to {@code .removing-<chain>} first (hidden from readers, so a
 * crash mid-delete never leaves a half chain that looks complete), then deleted. Leftover
 * {@code .removing-*} folders are deleted at the start of the next prune.
 */
public final class Pruner {
    /** Prefix of a chain folder being deleted. */
    public static final String REMOVING_PREFIX = ".removing-";

    private static final Logger LOG = LoggerFactory.getLogger(Pruner.class);

    private final BackupRepository repository;
    private final Holds holds;
    private final RetentionPolicy policy;
    private final Clock clock;
    private final Duration lockWait;
    private final Function<Chain, VerifyReport> verifier;

    /** A pruner that verifies with {@link ChainVerifier#verify} (SHA-256 included) and waits 30 s for restores. */
    public Pruner(Path root, RetentionPolicy policy, Clock clock) {
        this(root, policy, clock, Duration.ofSeconds(30));
    }

    public Pruner(Path root, RetentionPolicy policy, Clock clock, Duration lockWait) {
        this(root, policy, clock, lockWait, chain -> {
            try {
                return ChainVerifier.verify(chain);
            } catch (IOException e) {
                return new VerifyReport(chain, List.of(chain.dir() + ": cannot be read: " + e.getMessage()), List.of());
            }
        });
    }

    Pruner(Path root, RetentionPolicy policy, Clock clock, Duration lockWait, Function<Chain, VerifyReport> verifier) {
        this.repository = new BackupRepository(root);
        this.holds = new Holds(repository.root());
        this.policy = Objects.requireNonNull(policy, "policy");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.lockWait = Objects.requireNonNull(lockWait, "lockWait");
        this.verifier = Objects.requireNonNull(verifier, "verifier");
    }

    /**
     * The plan for one disk, without removing anything (a dry run). Takes the lock shared, so
     * it runs beside restores.
     */
    public RetentionPlan plan(String device) throws IOException, OperatorException {
        try (RepositoryLock lock = RepositoryLock.acquire(repository.root(), RepositoryLock.Mode.SHARED,
                "retention plan of " + device, lockWait)) {
            return planLocked(device, repository.chains(device));
        }
    }

    /** Prunes one disk: plans and removes, under the exclusive lock. */
    public PruneResult prune(String device) throws IOException, OperatorException {
        try (RepositoryLock lock = RepositoryLock.acquire(repository.root(), RepositoryLock.Mode.EXCLUSIVE,
                "prune of " + device, lockWait)) {
            return pruneLocked(device);
        }
    }

    /** Prunes every disk of the repository, under one exclusive lock. */
    public List<PruneResult> pruneAll() throws IOException, OperatorException {
        try (RepositoryLock lock = RepositoryLock.acquire(repository.root(), RepositoryLock.Mode.EXCLUSIVE,
                "prune of every disk", lockWait)) {
            List<PruneResult> results = new ArrayList<>();
            for (String device : repository.devices()) {
                results.add(pruneLocked(device));
            }
            return results;
        }
    }

    private PruneResult pruneLocked(String device) throws IOException, OperatorException {
        long t0 = System.nanoTime();
        long freed = finishInterruptedRemovals(repository.root().resolve(device));
        List<Chain> chains = repository.chains(device);
        RetentionPlan plan = planLocked(device, chains);
        Map<String, Chain> byId = chains.stream().collect(Collectors.toMap(Chain::chainId, c -> c));
        List<String> removed = new ArrayList<>();
        for (String chainId : plan.toRemove()) {
            Chain chain = byId.get(chainId);
            Path hidden = chain.dir().resolveSibling(REMOVING_PREFIX + chainId);
            try {
                AtomicFiles.renameDurably(chain.dir(), hidden);
                freed += deleteTree(hidden);
                AtomicFiles.syncDirectory(chain.dir().getParent());
            } catch (IOException e) {
                throw new OperationFailedException("prune of " + device + ": cannot remove chain " + chain.dir() + ": "
                        + e.getMessage() + "; removed so far: " + removed + "; fix the cause and prune again", e);
            }
            removed.add(chainId);
            LOG.info("pruned {}/{}: {}", device, chainId, plan.decision(chainId).reasons());
        }
        return new PruneResult(plan, removed, freed, (System.nanoTime() - t0) / 1e9);
    }

    private RetentionPlan planLocked(String device, List<Chain> chains) throws IOException, BadInputException {
        Set<String> held = holds.of(device).stream().map(Hold::chainId).collect(Collectors.toSet());
        // First assume every chain verified: when nothing would go, no chain needs reading.
        Map<String, Boolean> verified = new HashMap<>();
        chains.forEach(c -> verified.put(c.chainId(), true));
        RetentionPlan optimistic = RetentionPlanner.plan(device, facts(chains, held, verified), policy, clock);
        if (optimistic.toRemove().isEmpty()) {
            return optimistic;
        }
        // Verify from the newest complete chain down until one passes; chains older than it have a
        // newer verified chain, the ones above it failed; the rest stay unverified (= not verified).
        chains.forEach(c -> verified.put(c.chainId(), false));
        for (int i = chains.size() - 1; i >= 0; i--) {
            Chain c = chains.get(i);
            if (c.backups().isEmpty()) {
                continue;
            }
            VerifyReport report = verifier.apply(c);
            if (report.ok()) {
                verified.put(c.chainId(), true);
                break;
            }
            LOG.warn("prune of {}: chain {} failed verification, so it cannot justify removing older chains: {}", device,
                    c.chainId(), report.problems());
        }
        return RetentionPlanner.plan(device, facts(chains, held, verified), policy, clock);
    }

    private static List<ChainFacts> facts(List<Chain> chains, Set<String> held, Map<String, Boolean> verified) {
        List<ChainFacts> facts = new ArrayList<>();
        for (Chain c : chains) {
            facts.add(new ChainFacts(c.chainId(), c.backups().stream().map(Pruner::time).toList(),
                    verified.get(c.chainId()), held.contains(c.chainId())));
        }
        return facts;
    }

    static java.time.Instant time(BackupManifest b) {
        return b.startedAt() != null ? b.startedAt() : b.createdAt();
    }

    /** Deletes {@code .removing-*} folders a crashed prune left; returns the bytes freed. */
    private static long finishInterruptedRemovals(Path deviceDir) throws IOException {
        if (!Files.isDirectory(deviceDir)) {
            return 0;
        }
        long freed = 0;
        List<Path> leftovers;
        try (Stream<Path> s = Files.list(deviceDir)) {
            leftovers = s.filter(p -> p.getFileName().toString().startsWith(REMOVING_PREFIX)).toList();
        }
        for (Path p : leftovers) {
            LOG.info("finishing the removal of {} (a prune was interrupted)", p);
            freed += deleteTree(p);
        }
        if (!leftovers.isEmpty()) {
            AtomicFiles.syncDirectory(deviceDir);
        }
        return freed;
    }

    private static long deleteTree(Path dir) throws IOException {
        long[] bytes = {0};
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                bytes[0] += attrs.size();
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
        return bytes[0];
    }
}

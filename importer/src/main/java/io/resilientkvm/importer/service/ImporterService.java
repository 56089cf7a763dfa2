// Over 350 lines: one reconcile loop, its start/close stack, round queueing and the round's NextStep branching, which share its state.
package io.resilientkvm.importer.service;

import static io.resilientkvm.importer.service.BackupImport.describe;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.NextStep;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RetryableException;
import io.resilientkvm.engine.lifecycle.ComponentStack;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.engine.zk.CatalogView;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.importer.transfer.Backoff;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.watch.PersistentWatcher;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.state.ConnectionStateListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A clone's importer: keeps the local repository equal to what the current main published.
 * It reconciles on start, on every change of the published manifests, members or epoch (a
 * recursive persistent watch, which reads nothing), after every reconnect, and every {@code resyncEvery} as a safety net, so a
 * clone that was down or cut off catches up by itself, in backup order. One round at a time
 * runs on a single thread; requests during a round coalesce into one more round.
 *
 * <p>Only backups of the current epoch are imported: a manifest of an older epoch that this
 * clone does not hold is refused and logged (its main was replaced). Each imported backup is
 * verified (size and SHA-256 while streaming, then {@code qemu-img check} and its backing link)
 * before it counts; this clone's status ({@link ImporterStatus}) is written after each round.
 *
 * <p>A round branches on what its failure says to do next ({@link NextStep}): a transient one
 * (network, main not announced) stops the round and another follows after a backoff that
 * doubles up to {@code resyncEvery}; a backup that must be given up (bad bytes, gone from the
 * main, broken image) is skipped, and tried again only when its published manifest changes or
 * after {@code giveUpFor}, while the round goes on; a refusal (the token, a clone history that
 * differs from the main's) or bad input stops the round until the next event or resync, without
 * early retries.
 *
 * <p>A round reads only what changed in the catalog ({@link CatalogView}: {@code 1 + devices}
 * ZooKeeper reads when nothing did) and parses each manifest once per process; a manifest this
 * process saw held (or imported) is not looked at again while it stays published, so a round
 * costs the same with 200 or 20,000 published manifests. Before each download the repository's
 * free space is checked against the backup's size plus {@code freeSpaceReserve}.
 */
public final class ImporterService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ImporterService.class);

    /**
     * @param node        this clone's node name
     * @param repository  where imported backups are kept (same layout as the main's)
     * @param resyncEvery a reconcile runs at least this often, even without any event
     * @param roundTimeout longest wait for a round requested through {@link #reconcileNow()}
     * @param retryBase    the first delay before another round after a transient failure (doubles, up to resyncEvery)
     * @param giveUpFor    how long a backup given up stays skipped while its manifest stays the same
     * @param freeSpaceReserve bytes that must stay free on the repository's file system after a download
     */
    public record Settings(String node, Path repository, Duration resyncEvery, Duration roundTimeout,
            Duration retryBase, Duration giveUpFor, long freeSpaceReserve) {
        /** 1 GiB stays free on the clone's repository file system unless the node configuration says otherwise. */
        public static final long DEFAULT_FREE_SPACE_RESERVE = io.resilientkvm.engine.instance.NodeConfig.Importer.DEFAULT
                .freeSpaceReserveBytes();

        public Settings {
            ZkLayout.requireName("node", node);
            Objects.requireNonNull(repository, "repository");
            Objects.requireNonNull(resyncEvery, "resyncEvery");
            Objects.requireNonNull(roundTimeout, "roundTimeout");
            Objects.requireNonNull(retryBase, "retryBase");
            Objects.requireNonNull(giveUpFor, "giveUpFor");
            if (freeSpaceReserve < 0) {
                throw new IllegalArgumentException("freeSpaceReserve must be 0 or more bytes, got " + freeSpaceReserve);
            }
            if (retryBase.isNegative() || retryBase.compareTo(resyncEvery) > 0) {
                throw new IllegalArgumentException("retryBase " + retryBase + " must be in 0.." + resyncEvery
                        + " (resyncEvery)");
            }
        }

        /** With the default free-space reserve. */
        public Settings(String node, Path repository, Duration resyncEvery, Duration roundTimeout, Duration retryBase,
                Duration giveUpFor) {
            this(node, repository, resyncEvery, roundTimeout, retryBase, giveUpFor, DEFAULT_FREE_SPACE_RESERVE);
        }

        /** Retries after 1 s (doubling), a backup given up stays skipped for an hour. */
        public Settings(String node, Path repository, Duration resyncEvery, Duration roundTimeout) {
            this(node, repository, resyncEvery, roundTimeout, Duration.ofSeconds(1).compareTo(resyncEvery) > 0
                    ? resyncEvery : Duration.ofSeconds(1), Duration.ofHours(1));
        }

        public static Settings of(String node, Path repository) {
            return new Settings(node, repository, Duration.ofSeconds(30), Duration.ofHours(2));
        }

        /** The same settings keeping {@code bytes} free on the repository's file system. */
        public Settings withFreeSpaceReserve(long bytes) {
            return new Settings(node, repository, resyncEvery, roundTimeout, retryBase, giveUpFor, bytes);
        }
    }

    private final Settings settings;
    private final EpochStore epochs;
    private final CatalogView catalog;
    private final ImporterStatusStore statuses;
    private final BackupRepository repository;
    private final MainLocator locator;
    private final Consumer<ImportRound> afterRound;
    private final CuratorFramework client;
    /** Stamps this clone's status. */
    private final InstantSource clock;
    private final ScheduledExecutorService executor;
    private final AtomicBoolean pending = new AtomicBoolean();
    private final AtomicLong bytes = new AtomicLong();
    private final Set<String> refusedOnce = new HashSet<>();
    /** Published manifests seen held here by this process: not looked at again while they stay published. */
    private final Set<BackupManifest> settled = new HashSet<>();
    private List<BackupManifest> lastPublished;
    private final BackupImport backups;
    private final Quarantine quarantine;
    private final RoundRetry retries;
    private final ConnectionStateListener reconnects;
    private final PersistentWatcher watcher;
    private final LifecycleState lifecycle = new LifecycleState("importer");
    /** What {@link #start} set going, closed in reverse by {@link #close()} or by a start that fails part-way. */
    private final ComponentStack parts = new ComponentStack("importer");
    private volatile ImportRound lastRound;

    private ImporterService(CuratorFramework client, ZkLayout layout, Settings settings, Downloader downloader,
            MainLocator locator, Consumer<ImportRound> afterRound, InstantSource clock) {
        this.client = client;
        this.settings = settings;
        this.locator = locator;
        this.afterRound = afterRound;
        this.clock = clock;
        this.epochs = new EpochStore(client, layout);
        this.catalog = new CatalogView(client, layout);
        this.statuses = new ImporterStatusStore(client, layout);
        this.repository = new BackupRepository(settings.repository());
        this.backups = new BackupImport(settings.repository(), downloader, settings.freeSpaceReserve());
        this.quarantine = new Quarantine(settings.giveUpFor());
        this.executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "importer-" + settings.node());
            t.setDaemon(true);
            return t;
        });
        this.retries = new RoundRetry(executor, this::requestReconcile,
                new Backoff(settings.retryBase(), settings.resyncEvery()));
        this.reconnects = (c, state) -> {
            if (state == ConnectionState.RECONNECTED) {
                LOG.info("Reconnected to ZooKeeper: reconciling with the main");
                requestReconcile();
            }
        };
        this.watcher = new PersistentWatcher(client, layout.instancePath(), true);
        String watched = layout.instancePath();
        watcher.getListenable().addListener(event -> {
            String path = event.getPath() == null ? "" : event.getPath();
            // Not importers/: this clone's own status write must not start another round.
            if (path.startsWith(layout.manifestsPath()) || path.startsWith(layout.membersPath())
                    || path.equals(layout.epochPath()) || path.equals(watched)) {
                requestReconcile();
            }
        });
    }

    /**
     * Starts importing: an immediate reconcile, then on every event.
     *
     * @param afterRound called on the importer thread after each round (e.g. retention); may be a no-op
     */
    public static ImporterService start(CuratorFramework client, ZkLayout layout, Settings settings, Downloader downloader,
            MainLocator locator, Consumer<ImportRound> afterRound) throws OperationFailedException {
        return start(client, layout, settings, downloader, locator, afterRound, Clock.systemUTC());
    }

    /** As {@link #start(CuratorFramework, ZkLayout, Settings, Downloader, MainLocator, Consumer)}, on the caller's clock. */
    public static ImporterService start(CuratorFramework client, ZkLayout layout, Settings settings, Downloader downloader,
            MainLocator locator, Consumer<ImportRound> afterRound, InstantSource clock) throws OperationFailedException {
        try {
            Files.createDirectories(settings.repository());
        } catch (IOException e) {
            throw new OperationFailedException("cannot create the clone repository " + settings.repository() + ": "
                    + e.getMessage() + "; check data-dir in the node config and its permissions", e);
        }
        ImporterService service = new ImporterService(client, layout, settings, downloader, locator, afterRound, clock);
        service.begin();
        LOG.info("Importer of node {} started: repository {}", settings.node(), settings.repository());
        return service;
    }

    /** The thread, the reconnect listener, the watch, then the periodic round; a failure stops what started. */
    private void begin() {
        lifecycle.markStarted();
        try {
            parts.add("importer thread", this::stopExecutor);
            client.getConnectionStateListenable().addListener(reconnects);
            parts.add("reconnect listener", () -> client.getConnectionStateListenable().removeListener(reconnects));
            parts.start("ZooKeeper watch", () -> {
                watcher.start();
                return watcher;
            });
            long every = settings.resyncEvery().toMillis();
            executor.scheduleWithFixedDelay(this::requestReconcile, 0, every, TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            parts.close();
            throw e;
        }
    }

    /** Asks for a round soon; requests made while one is queued coalesce. */
    public void requestReconcile() {
        if (pending.compareAndSet(false, true)) {
            try {
                executor.execute(this::runQueuedRound);
            } catch (java.util.concurrent.RejectedExecutionException closed) {
                pending.set(false);
            }
        }
    }

    /** Runs a round now (after the one in progress) and returns what it did. */
    public ImportRound reconcileNow() throws OperationFailedException {
        Future<ImportRound> f = executor.submit(this::round);
        try {
            return f.get(settings.roundTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            f.cancel(true);
            throw new OperationFailedException("interrupted while importing", e);
        } catch (ExecutionException e) {
            throw new OperationFailedException("import round failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new OperationFailedException("import round did not finish within " + settings.roundTimeout());
        }
    }

    /** The last round's outcome, or empty before the first one. */
    public Optional<ImportRound> lastRound() {
        return Optional.ofNullable(lastRound);
    }

    private void runQueuedRound() {
        pending.set(false);
        round();
    }

    private ImportRound round() {
        List<String> imported = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        List<String> givenUp = new ArrayList<>();
        long roundBytes = 0;
        String error = null;
        NextStep next = null;
        long epochNumber = -1;
        try {
            Optional<Epoch> current = epochs.current();
            if (current.isEmpty()) {
                return record(new ImportRound(-1, imported, 0, refused, null, null, null));
            }
            Epoch epoch = current.get();
            epochNumber = epoch.number();
            Optional<URI> main = Optional.empty();
            List<BackupManifest> published = catalog.refresh();
            if (published != lastPublished) { // the same list when the catalog did not change
                quarantine.retainOnly(published.stream().map(BackupImport::describe).collect(Collectors.toSet()));
                settled.retainAll(new HashSet<>(published));
                lastPublished = published;
            }
            // settled is a subset of published: the same size means every one was seen held.
            for (BackupManifest m : settled.size() == published.size() ? List.<BackupManifest>of() : published) {
                if (m.epoch() > epoch.number() || settled.contains(m)) {
                    continue; // the epoch moved while we listed (the next round sees it), or seen held
                }
                Path file = backups.localFile(m);
                if (backups.held(m, file)) {
                    settled.add(m);
                    continue;
                }
                if (m.epoch() < epoch.number()) {
                    String why = describe(m) + " is from epoch " + m.epoch() + ", older than the current epoch "
                            + epoch.number() + ": its main was replaced, so it is not imported";
                    refused.add(why);
                    if (refusedOnce.add(describe(m))) {
                        LOG.warn("Refused {}", why);
                    }
                    continue;
                }
                if (m.level() == Level.INC && !backups.parentHeld(m, file)) {
                    String why = describe(m) + ": its parent " + m.parent() + " is not held here (the chain started"
                            + " before this clone joined, or an earlier import failed); waiting for the next full";
                    refused.add(why);
                    if (refusedOnce.add(describe(m))) {
                        LOG.warn("Skipping {}", why);
                    }
                    continue;
                }
                Optional<String> gaveUp = quarantine.reason(describe(m), m, clock.instant());
                if (gaveUp.isPresent()) {
                    givenUp.add(describe(m) + " is given up until its manifest changes: " + gaveUp.get());
                    continue;
                }
                if (main.isEmpty()) {
                    main = locator.locate(epoch);
                    if (main.isEmpty()) {
                        throw new RetryableException("the main of epoch " + epoch.number() + " (" + epoch.owner()
                                + ") has not announced its backup server; waiting for it");
                    }
                }
                try {
                    long moved = backups.run(main.get(), m, file);
                    settled.add(m);
                    roundBytes += moved;
                    bytes.addAndGet(moved);
                    imported.add(describe(m));
                } catch (OperatorException e) {
                    if (e.nextStep() != NextStep.GIVE_UP_ITEM) {
                        throw e;
                    }
                    // This backup cannot be imported as published; the others can.
                    quarantine.giveUp(describe(m), m, e.getMessage(), clock.instant());
                    givenUp.add(describe(m) + " is given up until its manifest changes: " + e.getMessage());
                    LOG.warn("Giving up {} until its manifest changes (or for {}): {}", describe(m),
                            settings.giveUpFor(), e.getMessage());
                }
            }
        } catch (OperatorException e) {
            error = e.getMessage();
            next = e.nextStep();
            LOG.warn("Import round stopped ({}): {}", next, error);
        } catch (IOException | RuntimeException e) {
            error = e.getMessage();
            next = NextStep.RETRY;
            LOG.warn("Import round stopped: {}", error);
        }
        refused.addAll(givenUp);
        if (error == null && !givenUp.isEmpty()) {
            error = givenUp.get(0); // the round went on, but this clone is not in step with the main
            next = NextStep.GIVE_UP_ITEM;
        }
        Duration retryIn = retries.after(next);
        return record(new ImportRound(epochNumber, imported, roundBytes, refused, error, next, retryIn));
    }

    private ImportRound record(ImportRound r) {
        lastRound = r;
        try {
            statuses.write(new ImporterStatus(settings.node(), r.epoch(), clock.instant(), heldPoints(), bytes.get(),
                    r.error(), keptChains()));
        } catch (OperatorException | IOException | RuntimeException e) {
            LOG.warn("Cannot write this clone's status: {}", e.getMessage());
        }
        try {
            afterRound.accept(r);
        } catch (RuntimeException e) {
            LOG.warn("After-import step failed: {}", e.getMessage(), e);
        }
        return r;
    }

    /** The newest verified backup of each disk held here. */
    public List<ImporterStatus.Point> heldPoints() throws IOException, BadInputException {
        List<ImporterStatus.Point> points = new ArrayList<>();
        for (BackupManifest m : repository.newestBackups()) {
            points.add(new ImporterStatus.Point(m.device(), m.chainId(), m.sequence(), m.file(), m.startedAt()));
        }
        return points;
    }

    /**
     * The chains this repository keeps (a folder with at least one manifest), per disk: the main's
     * catalog retention does not remove them. Lists folders only: no manifest is read.
     */
    private java.util.Map<String, List<String>> keptChains() throws IOException {
        java.util.Map<String, List<String>> kept = new java.util.TreeMap<>();
        for (String device : repository.devices()) {
            List<String> chains = new ArrayList<>();
            for (Path dir : BackupRepository.subfolders(settings.repository().resolve(device))) {
                try (java.util.stream.Stream<Path> files = Files.list(dir)) {
                    if (files.anyMatch(f -> f.getFileName().toString().endsWith(BackupManifest.SUFFIX))) {
                        chains.add(dir.getFileName().toString());
                    }
                }
            }
            kept.put(device, chains);
        }
        return kept;
    }

    /** Stops the watch, the reconnect listener and the importer thread, in that order; later calls do nothing. */
    @Override
    public void close() {
        if (lifecycle.markClosed()) {
            parts.close();
        }
    }

    private void stopExecutor() {
        executor.shutdownNow();
        try {
            if (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("Importer of {} did not stop within 30 s", settings.node());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package io.resilientkvm.importer.service;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.backup.VerifyReport;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.lifecycle.ComponentStack;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkLayout;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
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
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.state.ConnectionStateListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A clone's importer: keeps the local repository equal to what the current main published.
 * It reconciles on start, on every change of the published manifests, members or epoch (a
 * Curator cache), after every reconnect, and every {@code resyncEvery} as a safety net, so a
 * clone that was down or cut off catches up by itself, in backup order. One round at a time
 * runs on a single thread; requests during a round coalesce into one more round.
 *
 * <p>Only backups of the current epoch are imported: a manifest of an older epoch that this
 * clone does not hold is refused and logged (its main was replaced). Each imported backup is
 * verified (size and SHA-256 while streaming, then {@code qemu-img check} and its backing link)
 * before it counts; this clone's status ({@link ImporterStatus}) is written after each round.
 */
public final class ImporterService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ImporterService.class);

    /**
     * @param node        this clone's node name
     * @param repository  where imported backups are kept (same layout as the main's)
     * @param resyncEvery a reconcile runs at least this often, even without any event
     * @param roundTimeout longest wait for a round requested through {@link #reconcileNow()}
     */
    public record Settings(String node, Path repository, Duration resyncEvery, Duration roundTimeout) {
        public Settings {
            ZkLayout.requireName("node", node);
            Objects.requireNonNull(repository, "repository");
            Objects.requireNonNull(resyncEvery, "resyncEvery");
            Objects.requireNonNull(roundTimeout, "roundTimeout");
        }

        public static Settings of(String node, Path repository) {
            return new Settings(node, repository, Duration.ofSeconds(30), Duration.ofHours(2));
        }
    }

    private final Settings settings;
    private final EpochStore epochs;
    private final ManifestCatalog catalog;
    private final ImporterStatusStore statuses;
    private final BackupRepository repository;
    private final Downloader downloader;
    private final MainLocator locator;
    private final Consumer<ImportRound> afterRound;
    private final CuratorFramework client;
    private final Clock clock;
    private final ScheduledExecutorService executor;
    private final AtomicBoolean pending = new AtomicBoolean();
    private final AtomicLong bytes = new AtomicLong();
    private final Set<String> refusedOnce = new HashSet<>();
    private final ConnectionStateListener reconnects;
    private final CuratorCache cache;
    private final LifecycleState lifecycle = new LifecycleState("importer");
    /** What {@link #start} set going, closed in reverse by {@link #close()} or by a start that fails part-way. */
    private final ComponentStack parts = new ComponentStack("importer");
    private volatile ImportRound lastRound;

    private ImporterService(CuratorFramework client, ZkLayout layout, Settings settings, Downloader downloader,
            MainLocator locator, Consumer<ImportRound> afterRound, Clock clock) {
        this.client = client;
        this.settings = settings;
        this.downloader = downloader;
        this.locator = locator;
        this.afterRound = afterRound;
        this.clock = clock;
        this.epochs = new EpochStore(client, layout);
        this.catalog = new ManifestCatalog(client, layout);
        this.statuses = new ImporterStatusStore(client, layout);
        this.repository = new BackupRepository(settings.repository());
        this.executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "importer-" + settings.node());
            t.setDaemon(true);
            return t;
        });
        this.reconnects = (c, state) -> {
            if (state == ConnectionState.RECONNECTED) {
                LOG.info("Reconnected to ZooKeeper: reconciling with the main");
                requestReconcile();
            }
        };
        this.cache = CuratorCache.build(client, layout.instancePath());
        String watched = layout.instancePath();
        cache.listenable().addListener(CuratorCacheListener.builder().forAll((type, before, after) -> {
            String path = after != null ? after.getPath() : before != null ? before.getPath() : "";
            if (path.startsWith(layout.manifestsPath()) || path.startsWith(layout.membersPath())
                    || path.equals(layout.epochPath()) || path.equals(watched)) {
                requestReconcile();
            }
        }).build());
    }

    /**
     * Starts importing: an immediate reconcile, then on every event.
     *
     * @param afterRound called on the importer thread after each round (e.g. retention); may be a no-op
     */
    public static ImporterService start(CuratorFramework client, ZkLayout layout, Settings settings, Downloader downloader,
            MainLocator locator, Consumer<ImportRound> afterRound) throws OperationFailedException {
        try {
            Files.createDirectories(settings.repository());
        } catch (IOException e) {
            throw new OperationFailedException("cannot create the clone repository " + settings.repository() + ": "
                    + e.getMessage() + "; check data-dir in the node config and its permissions", e);
        }
        ImporterService service = new ImporterService(client, layout, settings, downloader, locator, afterRound,
                Clock.systemUTC());
        service.begin();
        LOG.info("Importer of node {} started: repository {}", settings.node(), settings.repository());
        return service;
    }

    /** The thread, the reconnect listener, the cache, then the periodic round; a failure stops what started. */
    private void begin() {
        lifecycle.markStarted();
        try {
            parts.add("importer thread", this::stopExecutor);
            client.getConnectionStateListenable().addListener(reconnects);
            parts.add("reconnect listener", () -> client.getConnectionStateListenable().removeListener(reconnects));
            parts.start("ZooKeeper cache", () -> {
                cache.start();
                return cache;
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
        long roundBytes = 0;
        String error = null;
        long epochNumber = -1;
        try {
            Optional<Epoch> current = epochs.current();
            if (current.isEmpty()) {
                return record(new ImportRound(-1, imported, 0, refused, null));
            }
            Epoch epoch = current.get();
            epochNumber = epoch.number();
            Optional<URI> main = Optional.empty();
            for (BackupManifest m : catalog.list()) {
                if (m.epoch() > epoch.number()) {
                    continue; // the epoch moved while we listed: the next round sees it
                }
                Path file = localFile(m);
                if (held(m, file)) {
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
                if (m.level() == Level.INC && !parentHeld(m, file)) {
                    String why = describe(m) + ": its parent " + m.parent() + " is not held here (the chain started"
                            + " before this clone joined, or an earlier import failed); waiting for the next full";
                    refused.add(why);
                    if (refusedOnce.add(describe(m))) {
                        LOG.warn("Skipping {}", why);
                    }
                    continue;
                }
                if (main.isEmpty()) {
                    main = locator.locate(epoch);
                    if (main.isEmpty()) {
                        throw new OperationFailedException("the main of epoch " + epoch.number() + " (" + epoch.owner()
                                + ") has not announced its backup server; waiting for it");
                    }
                }
                long t0 = System.nanoTime();
                long moved = downloader.download(main.get(), m, settings.repository());
                verify(m, file);
                roundBytes += moved;
                bytes.addAndGet(moved);
                imported.add(describe(m));
                LOG.info("Imported {} ({} bytes in {} ms), verified", describe(m), moved,
                        (System.nanoTime() - t0) / 1_000_000);
            }
        } catch (OperatorException | IOException | RuntimeException e) {
            error = e.getMessage();
            LOG.warn("Import round stopped: {}", error);
        }
        return record(new ImportRound(epochNumber, imported, roundBytes, refused, error));
    }

    private ImportRound record(ImportRound r) {
        lastRound = r;
        try {
            statuses.write(new ImporterStatus(settings.node(), r.epoch(), clock.instant(), heldPoints(), bytes.get(),
                    r.error()));
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
        for (String device : repository.devices()) {
            repository.newestBackup(device).ifPresent(m -> points.add(new ImporterStatus.Point(m.device(), m.chainId(),
                    m.sequence(), m.file(), m.startedAt())));
        }
        return points;
    }

    private void verify(BackupManifest m, Path file) throws IOException, BadInputException, OperationFailedException {
        Chain chain = repository.chains(m.device()).stream().filter(c -> c.chainId().equals(m.chainId())).findFirst()
                .orElseThrow(() -> new OperationFailedException(describe(m) + ": imported but its chain is not readable"));
        VerifyReport report = ChainVerifier.verifyNewest(chain, true);
        report.warnings().forEach(w -> LOG.warn("{}", w));
        if (!report.ok()) {
            // Out of history before anything can restore from it; the main's copy is the broken one.
            Files.deleteIfExists(BackupManifest.manifestPath(file));
            Files.deleteIfExists(file);
            throw new OperationFailedException(describe(m) + " failed verification after import and was removed: "
                    + String.join("; ", report.problems()) + "; check the main's repository (bin/exporter verify)");
        }
    }

    private boolean held(BackupManifest m, Path file) throws IOException, BadInputException, OperationFailedException {
        Path manifest = BackupManifest.manifestPath(file);
        if (!Files.exists(manifest)) {
            return false;
        }
        BackupManifest local = BackupManifest.read(manifest);
        if (!local.sha256().equals(m.sha256())) {
            throw new OperationFailedException("this clone holds " + describe(m) + " with SHA-256 " + local.sha256()
                    + " but the main published " + m.sha256() + "; move " + file.getParent()
                    + " aside and the importer fetches the chain again");
        }
        return true;
    }

    private boolean parentHeld(BackupManifest m, Path file) {
        return Files.exists(BackupManifest.manifestPath(file.resolveSibling(m.parent())));
    }

    private Path localFile(BackupManifest m) {
        // Names from ZooKeeper become paths: the wire contract accepts plain names only.
        return BackupPaths.Ref.of(m).resolve(settings.repository());
    }

    private static String describe(BackupManifest m) {
        return m.device() + "/" + m.chainId() + "/" + m.file();
    }

    /** Stops the cache, the reconnect listener and the importer thread, in that order; later calls do nothing. */
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

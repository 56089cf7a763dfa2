package io.resilientkvm.node;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.lifecycle.ComponentStack;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.engine.process.RestartPolicy;
import io.resilientkvm.engine.zk.CatalogView;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.importer.retention.CatalogRetention;
import io.resilientkvm.importer.retention.RetentionPolicy;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.BackupResult;
import io.resilientkvm.exporter.DeviceBackup;
import io.resilientkvm.exporter.Exporter;
import io.resilientkvm.exporter.NewChainPolicy;
import io.resilientkvm.exporter.lock.ClusterExporterLock;
import io.resilientkvm.exporter.schedule.BackupTime;
import io.resilientkvm.exporter.schedule.BackupSchedule;
import io.resilientkvm.exporter.server.BackupServer;
import io.resilientkvm.importer.restore.Hold;
import io.resilientkvm.importer.restore.RestoreResult;
import io.resilientkvm.exporter.server.BackupServerSettings;
import io.resilientkvm.takeover.fencing.FenceMarker;
import io.resilientkvm.takeover.fencing.AckChannel;
import io.resilientkvm.takeover.fencing.Failsafe;
import io.resilientkvm.takeover.fencing.FencingWatcher;
import io.resilientkvm.engine.watchdog.LeaseClock;
import io.resilientkvm.engine.watchdog.LeaseRenewer;
import io.resilientkvm.engine.watchdog.OwnershipProof;
import io.resilientkvm.engine.watchdog.WatchdogLease;
import io.resilientkvm.engine.watchdog.ZooKeeperOwnershipProof;
import java.util.Optional;
import java.util.OptionalLong;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The main's role: the VM under supervision, the backup server clones pull from, the scheduled
 * exporter that publishes every backup under this main's epoch, and the fencing watcher that
 * stops all of it the moment this node is no longer the main.
 *
 * <p>Its components form one {@link ComponentStack}, started in this order: fencing watcher,
 * cluster exporter lock, (a promoted clone's disk restore), backup server, the VM's lease renewer
 * (a promoted clone then waits out the old main's VM watchdog), VM (each QEMU guarded by a keeper
 * process, engine.watchdog), backup schedule; {@link #close()} stops them in reverse: the schedule
 * (no new backup; a running one may finish), the VM (QMP quit writes the bitmaps), the lease
 * renewer, the server, the exporter lock, and the fencing watcher
 * last, so this main is watched until nothing of it runs. A start that fails part-way closes, in
 * reverse, what it started. {@link #fence()} stops the VM at once, from any thread, without
 * waiting for a start in progress: the start sees the role stopped before its next step (or when
 * its current one returns) and closes what it started, a VM that came up included.
 */
final class MainRole implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MainRole.class);

    /** Puts a promoted clone's disks back from its repository: {@link Promotion#restoreDisks} outside tests. */
    @FunctionalInterface
    interface DiskRestore {
        List<RestoreResult> restore(NodeContext ctx) throws OperatorException;
    }

    private final NodeContext ctx;
    private final Epoch epoch;
    private final boolean promoted;
    private final FencingWatcher.FenceAction onFence;
    private final FenceMarker marker;
    private final DiskRestore restore;
    private final LifecycleState lifecycle;
    private final ComponentStack stack;
    /** Guards {@link #starter} only: held to set it or interrupt it, never across a step of the start. */
    private final Object starterLock = new Object();
    private Thread starter;
    /** Set once the VM is on the stack, so that a fence can stop it without touching a start in progress. */
    private volatile KvmInstance vm;
    private volatile String address;
    private volatile String backupSchedule;
    /** When this role was made (CLOCK_MONOTONIC): for a promotion, after the epoch naming it was seen. */
    private final long createdNanos = System.nanoTime();
    /** Fail-safe mode's channel to the clones; empty when off. */
    private final Optional<AckChannel> acks;
    /** Held while publishing, so that a backup's publication and the catch-up after an outage never interleave. */
    private final Object publishing = new Object();
    /** Publishes what a ZooKeeper outage left unpublished; set once the catalog exists. */
    private volatile Runnable catchUp = () -> { };

    /** A main role for {@code epoch}, not started: {@link #start()} starts it. */
    MainRole(NodeContext ctx, Epoch epoch, boolean promoted, FencingWatcher.FenceAction onFence, FenceMarker marker,
            DiskRestore restore) {
        this(ctx, epoch, promoted, onFence, marker, restore, Optional.empty());
    }

    /** With fail-safe mode on when {@code acks} is given (docs/takeover.md). */
    MainRole(NodeContext ctx, Epoch epoch, boolean promoted, FencingWatcher.FenceAction onFence, FenceMarker marker,
            DiskRestore restore, Optional<AckChannel> acks) {
        this.acks = acks;
        this.ctx = ctx;
        this.epoch = epoch;
        this.promoted = promoted;
        this.onFence = onFence;
        this.marker = marker;
        this.restore = restore;
        this.lifecycle = new LifecycleState("main role of " + ctx.node() + " (epoch " + epoch.number() + ")");
        this.stack = new ComponentStack("main role of " + ctx.node());
    }

    /**
     * Starts the main's services for the epoch. A promoted clone first puts its newest verified
     * backup under the VM's disk (an instant overlay), and takes a full backup at once to start
     * its own chain. Throws when a step fails, or when the role was fenced or closed meanwhile;
     * either way nothing of it is left running.
     */
    void start() throws OperatorException {
        lifecycle.markStarted();
        synchronized (starterLock) {
            starter = Thread.currentThread();
        }
        try {
            startSteps();
        } catch (OperatorException | RuntimeException e) {
            stack.close();
            if (lifecycle.isClosed()) {
                throw new OperationFailedException("the main role of " + ctx.node() + " for epoch " + epoch.number()
                        + " was stopped while it started (fenced or shut down); nothing of it runs: " + e.getMessage(), e);
            }
            throw e;
        } finally {
            synchronized (starterLock) {
                starter = null;
            }
            if (lifecycle.isClosed()) {
                Thread.interrupted(); // the interrupt was meant for this start, not for the caller's thread
            }
        }
    }

    private void startSteps() throws OperatorException {
        NodeConfig cfg = ctx.config();
        InstanceLayout layout = cfg.layout();
        // First: a damaged etc/.backup-time stops the start before anything runs.
        BackupTime backupTime = BackupTime.resolve(ctx.resilient().backupCron(), layout.etc());
        Optional<Failsafe> failsafe = acks.map(channel -> Failsafe.of(cfg.instance(), cfg.peers().keySet(), channel,
                cfg.zookeeper().suspendBound(), () -> catchUp.run()));
        // Said once at the start, so an operator (and the bed's tests) can tell which rule a ZooKeeper outage meets.
        if (failsafe.isPresent()) {
            LOG.info("Main {}: fail-safe mode on: cut from ZooKeeper, it runs on while every clone ({}) acknowledges it",
                    ctx.node(), String.join(", ", cfg.peers().keySet()));
        } else {
            LOG.info("Main {}: fail-safe mode off: cut from ZooKeeper for {} ms, it fences", ctx.node(),
                    cfg.zookeeper().suspendBound().toMillis());
        }
        FencingWatcher watcher = step("fencing watcher", () -> FencingWatcher.start(ctx.client(), ctx.layout(), ctx.node(), epoch,
                cfg.zookeeper().suspendBound(), cfg.zookeeper().sessionTimeout(), onFence, marker, failsafe));
        // One exporter per instance, even if an operator starts bin/exporter on another host.
        // A promoted main may find the lock still held by a replaced main that is frozen (or cut off): its
        // lock node goes with its session, so wait out a session timeout beside the usual wait.
        Duration lockWait = promoted ? ClusterExporterLock.DEFAULT_ACQUIRE_TIMEOUT.plus(cfg.zookeeper().sessionTimeout())
                : ClusterExporterLock.DEFAULT_ACQUIRE_TIMEOUT;
        ClusterExporterLock exporterLock = step("exporter lock", () -> ClusterExporterLock.acquire(ctx.client(), ctx.layout().exporterLockPath(), ctx.node(),
                lockWait));
        if (failsafe.isPresent()) {
            exporterLock.vouchedBy(watcher::failsafeHolds); // cut from ZooKeeper, backups go on while the clones vouch
        }
        List<Hold> toRelease = new ArrayList<>();
        if (promoted) {
            requireRunning("the disk restore");
            String mainDevice = ctx.params().kvm().diskType().mainDeviceId();
            for (RestoreResult r : restore.restore(ctx)) {
                if (r.point().device().equals(mainDevice)) {
                    r.hold().ifPresent(toRelease::add);
                }
            }
            // Durably, before the VM starts: a restart after this point does not restore again.
            Promotion.markFinished(layout, epoch);
        }
        Flattening flattening = new Flattening(layout.backupQmpSocket(), layout.backupRepository(), toRelease);
        BackupServer server = step("backup server",
                () -> BackupServer.start(BackupServerSettings.from(cfg, layout.backupRepository())));
        address = Advertised.announce(cfg.backupServer(), server.baseUri()).toString();
        // The VM runs only while this agent proves it owns the epoch: a keeper process pauses it otherwise.
        WatchdogLease lease = new WatchdogLease(cfg.vmWatchdog().lease(), layout.vmKeeperLog());
        OwnershipProof proof = ownershipProof(cfg, watcher, failsafe.isPresent());
        step("VM lease", () -> LeaseRenewer.start(lease, proof, ctx.node()));
        if (promoted) {
            awaitOldMainsWatchdog(cfg.vmWatchdog().lease());
            requireRunning("the promotion window");
            PromotionWindow.await(ctx, epoch); // an old main cut from ZooKeeper has fenced itself by then
        }
        // Returns once QEMU answers QMP (the supervisor holds run/qmp.sock from then on).
        vm = step("VM", () -> startVm(cfg, layout, lease));
        ManifestCatalog catalog = new ManifestCatalog(ctx.client(), ctx.layout());
        catchUp = () -> catchUp(catalog, layout.backupRepository());
        CatalogRetention catalogRetention = new CatalogRetention(catalog, new CatalogView(ctx.client(), ctx.layout()),
                new ImporterStatusStore(ctx.client(), ctx.layout()), RetentionPolicy.of(ctx.resilient()), Clock.systemUTC());
        NewChainPolicy policy = newChainPolicy(ctx);
        Supplier<BackupRequest> requests = () -> BackupRequest.of(layout.backupQmpSocket(), layout.backupRepository())
                .withInstance(cfg.instance()).withEpoch(epoch.number())
                .withSpeed(ctx.resilient().speedLimitBytesPerSecond()).withCompress(ctx.resilient().compress())
                .withNewChainPolicy(policy)
                // Quiesced through the guest agent when the node config names its socket (as bin/exporter --config does).
                .withGuestAgent(cfg.host().guestAgentSocket().orElse(null));
        // No backup starts while the exporter lock is suspended (within the bound it may come back).
        BackupSchedule schedule = step("backup schedule", () -> new BackupSchedule(backupTime.cron(), requests,
                exporterLock.guard(request -> {
                    BackupResult result = Exporter.backup(request);
                    if (publishOrKeep(catalog, layout.backupRepository(), result, watcher)) {
                        pruneCatalog(catalogRetention);
                    }
                    flattening.runOnce(); // after this main's own backup exists
                    return result;
                }, cfg.zookeeper().suspendBound()), MainRole::report, Duration.ofMinutes(5)));
        if (promoted || catalog.newestPerDevice().isEmpty()) {
            schedule.runNow();
        }
        backupSchedule = backupTime.describe();
        LOG.info("Backups of {}: {}", cfg.instance(), backupSchedule);
    }

    /**
     * The VM watchdog's proof of ownership: a ZooKeeper sync and read of the epoch; in fail-safe
     * mode, while cut from ZooKeeper, the clones' acknowledgements instead. The proof time is taken
     * before {@link FencingWatcher#failsafeHolds()} is asked, and it holds only before the watcher's
     * deadline (the last complete round's start plus the bound), so the VM runs at most until that
     * round's start plus the bound plus the lease; every clone promised to take no part in a
     * promotion until that round's start plus 5/4 of the bound, and a promotion then waits 1.1
     * leases more, so the old VM is paused first (docs/takeover.md).
     */
    private OwnershipProof ownershipProof(NodeConfig cfg, FencingWatcher watcher, boolean failsafe) {
        Duration lease = cfg.vmWatchdog().lease();
        // A sync sent as ZooKeeper goes away waits out its whole timeout: bounded by the lease, that one
        // call kept the renewer from the clones' proof until the keeper paused the VM (seen on the bed in a
        // whole-ensemble outage). A third of a lease leaves time, after a silent server's connection is
        // closed (ZooKeeperOwnershipProof), to reconnect elsewhere or take the fail-safe proof.
        OwnershipProof zooKeeper = new ZooKeeperOwnershipProof(ctx.client(), ctx.layout(), epoch, lease.dividedBy(3));
        if (!failsafe) {
            return zooKeeper;
        }
        return () -> {
            long before = LeaseClock.nanos();
            if (watcher.failsafeHolds()) {
                return OptionalLong.of(before);
            }
            OptionalLong proven = zooKeeper.prove();
            if (proven.isPresent()) {
                return proven;
            }
            long after = LeaseClock.nanos(); // cut meanwhile: the clones may vouch already
            if (watcher.failsafeHolds()) {
                return OptionalLong.of(after);
            }
            // Not cut by Curator's account, yet no proof: a server gone silent is noticed only after
            // 2/3 of the session, and the keeper would pause the VM first (seen on the bed with an
            // 8 s session: paused 5 s into a cut from ZooKeeper, before SUSPENDED). The clones'
            // promises, asked now, prove it as a round of a cut does.
            long asked = LeaseClock.nanos();
            return watcher.clonesVouchNow(lease.dividedBy(5)) ? OptionalLong.of(asked) : proven;
        };
    }

    /**
     * A promoted main starts its VM only after the old main's keeper paused the old VM: that
     * keeper's deadline is at most its last proof plus the lease, and every proof it could take
     * came before the epoch moved, which came before this role was made (docs/takeover.md).
     */
    private void awaitOldMainsWatchdog(Duration lease) throws OperationFailedException {
        Duration wait = WatchdogLease.promotionWait(lease);
        long left = createdNanos + wait.toNanos() - System.nanoTime();
        if (left <= 0) {
            return;
        }
        LOG.info("Promotion to epoch {}: waiting {} ms more (lease {} ms and a tenth, from the epoch change) so that the old"
                + " main's VM keeper has paused its VM before this VM starts", epoch.number(), left / 1_000_000, lease.toMillis());
        try {
            java.util.concurrent.TimeUnit.NANOSECONDS.sleep(left); // bounded by the lease; a fence interrupts it
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OperationFailedException("stopped while waiting out the old main's watchdog", e);
        }
    }

    private KvmInstance startVm(NodeConfig cfg, InstanceLayout layout, WatchdogLease lease) throws OperatorException {
        KvmInstance instance = KvmInstance.prepare(cfg.instance(), ctx.params().kvm(), cfg.host(), layout);
        try {
            instance.start(RestartPolicy.DEFAULT, java.util.Optional.of(lease));
        } catch (OperatorException | RuntimeException e) {
            instance.close(); // prepared is not running: its guest file server stops too
            throw e;
        }
        return instance;
    }

    /** Starts one component on the stack, unless the role was stopped before or while it started. */
    private <T extends AutoCloseable, E extends Exception> T step(String name, ComponentStack.Starter<T, E> starter)
            throws E, OperationFailedException {
        requireRunning(name);
        T component = stack.start(name, starter);
        requireRunning(name); // fenced while it started: the caller closes the stack, this component included
        return component;
    }

    private void requireRunning(String next) throws OperationFailedException {
        if (lifecycle.isClosed()) {
            throw new OperationFailedException("stopped before " + next);
        }
    }

    private static NewChainPolicy newChainPolicy(NodeContext ctx) throws BadInputException {
        try {
            return NewChainPolicy.parse(ctx.resilient().newChainEvery());
        } catch (IllegalArgumentException e) {
            throw new BadInputException("backup-new-chain-every in " + ctx.config().parameters() + ": " + e.getMessage());
        }
    }

    /**
     * Publishes a new backup; cut from ZooKeeper in fail-safe mode, keeps it for the catch-up when
     * ZooKeeper is back instead (false). A refusal (the epoch moved) is thrown as always.
     */
    private boolean publishOrKeep(ManifestCatalog catalog, Path repository, BackupResult result, FencingWatcher watcher)
            throws OperatorException {
        synchronized (publishing) {
            if (publishOrKeep(catalog, epoch, repository, result, watcher::failsafeHolds)) {
                return true;
            }
        }
        if (ctx.client().getZookeeperClient().isConnected()) {
            catchUp.run(); // back meanwhile: the watcher's catch-up may have run before this backup was kept
        }
        return false;
    }

    /**
     * {@link #publishOrKeep(ManifestCatalog, Path, BackupResult, FencingWatcher)} with the watcher's
     * {@code failsafeHolds}. Already cut and vouched for, it does not try: a publication on a cut
     * client blocks in Curator's retries until ZooKeeper is back (seen on the bed: 11 s, the whole
     * outage, with no other backup started meanwhile), where fail-safe mode means backups go on.
     */
    static boolean publishOrKeep(ManifestCatalog catalog, Epoch epoch, Path repository, BackupResult result,
            BooleanSupplier failsafeHolds) throws OperatorException {
        if (failsafeHolds.getAsBoolean()) {
            keep(result, "cut from ZooKeeper");
            return false;
        }
        try {
            publish(catalog, epoch, repository, result);
            return true;
        } catch (OperationFailedException e) {
            if (!failsafeHolds.getAsBoolean()) {
                throw e;
            }
            keep(result, e.getMessage());
            return false;
        }
    }

    private static void keep(BackupResult result, String why) {
        LOG.warn("Backup {} kept unpublished: ZooKeeper is out of reach and every clone vouches for this main;"
                + " it is published as soon as ZooKeeper is back ({})", result.backups().stream()
                .map(b -> b.device() + " #" + b.manifest().sequence()).toList(), why);
    }

    /** Run by the fencing watcher once ZooKeeper is back and the epoch verified. */
    private void catchUp(ManifestCatalog catalog, Path repository) {
        synchronized (publishing) {
            try {
                FailsafePublication.publishPending(catalog, epoch, repository);
            } catch (OperatorException | RuntimeException e) {
                LOG.warn("Publishing the backups taken while cut from ZooKeeper failed (the next backup publishes them): {}",
                        e.getMessage());
            }
        }
    }

    /**
     * Publishes each new backup, after the older backups of its chain this epoch left unpublished
     * (an agent killed between a manifest and its publication): a clone needs every link of a
     * chain. Walks back only until a published one, so it costs one ZooKeeper read normally.
     */
    static BackupResult publish(ManifestCatalog catalog, Epoch epoch, Path repository, BackupResult result)
            throws OperatorException {
        for (DeviceBackup b : result.backups()) {
            BackupManifest m = b.manifest();
            for (BackupManifest missed : unpublishedBefore(catalog, epoch, repository, m)) {
                LOG.warn("Publishing {} {}/{} #{} that an interrupted run left unpublished", missed.level(),
                        missed.device(), missed.chainId(), missed.sequence());
                catalog.publish(epoch, missed);
            }
            catalog.publish(epoch, m);
        }
        return result;
    }

    static List<BackupManifest> unpublishedBefore(ManifestCatalog catalog, Epoch epoch, Path repository,
            BackupManifest m) throws OperatorException {
        List<BackupManifest> older;
        try {
            older = new BackupRepository(repository).chains(m.device()).stream()
                    .filter(c -> c.chainId().equals(m.chainId())).findFirst().map(Chain::backups).orElse(List.of())
                    .stream().filter(o -> o.sequence() < m.sequence()).toList();
        } catch (IOException e) {
            throw new OperationFailedException("reading chain " + m.chainId() + " of " + m.device() + " in "
                    + repository + ": " + e.getMessage(), e);
        }
        ArrayDeque<BackupManifest> missed = new ArrayDeque<>();
        for (int i = older.size() - 1; i >= 0; i--) {
            BackupManifest o = older.get(i);
            if (o.epoch() != epoch.number() || catalog.isPublished(o)) {
                break;
            }
            missed.addFirst(o);
        }
        return List.copyOf(missed);
    }

    /** The catalog follows retention after each backup; a failure costs nothing but a larger catalog until the next. */
    private void pruneCatalog(CatalogRetention retention) {
        try {
            retention.run(epoch);
        } catch (OperatorException | RuntimeException e) {
            LOG.warn("Catalog retention skipped after this backup (the next one tries again): {}", e.getMessage());
        }
    }

    private static void report(BackupSchedule.Outcome o) {
        if (o.succeeded()) {
            for (DeviceBackup b : o.result().backups()) {
                LOG.info("Backup {} {} #{}: {} bytes in {} s ({} MB/s)", b.device(), b.manifest().level(),
                        b.manifest().sequence(), b.bytes(), String.format("%.2f", b.seconds()), String.format("%.1f", b.mbPerSec()));
            }
        } else {
            LOG.warn("Backup failed (the next run retries): {}", o.error().getMessage());
        }
    }

    String serverAddress() {
        return address;
    }

    /** The exporter's cron and where it comes from, as announced in the member znode. */
    String backupSchedule() {
        return backupSchedule;
    }

    /**
     * Fencing, from the fencing watcher's thread: marks the role stopped, interrupts a start in
     * progress and stops the VM now. It waits on no lock a start holds; the rest of the stack
     * (schedule, server, lock, watcher) is left to {@link #close()}, which may wait for a running
     * backup, so the caller runs it on another thread.
     */
    void fence() {
        if (!lifecycle.markClosed()) {
            return;
        }
        interruptStart();
        KvmInstance running = vm;
        if (running != null) {
            // The VM first: the schedule's close waits for a running backup, which may itself be
            // stuck on the ZooKeeper this main just lost (found by MainFencingIT).
            running.close();
        }
    }

    /** Stops everything in reverse order of start; a start in progress is interrupted and closes what it started. */
    @Override
    public void close() {
        if (lifecycle.markClosed()) {
            interruptStart();
        }
        stack.close();
    }

    private void interruptStart() {
        synchronized (starterLock) {
            if (starter != null) {
                starter.interrupt();
            }
        }
    }
}

package io.resilientkvm.takeover.fencing;

import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.engine.time.TaskTimer;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ZkLayout;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.state.ConnectionStateListener;
import org.apache.zookeeper.CreateMode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a main honest. It fences the node (runs the {@link FenceAction} once, after writing
 * the local {@link FenceMarker}) when:
 * <ul>
 *   <li>the epoch node changes: another node was promoted;</li>
 *   <li>the connection stays SUSPENDED longer than {@code suspendBound}, which is shorter than
 *       the session timeout, so this main stops before the ensemble expires its session and a
 *       clone can be promoted;</li>
 *   <li>the session is LOST;</li>
 *   <li>after RECONNECTED, the epoch is no longer the one this main owns.</li>
 * </ul>
 * A fenced node never resumes on its own.
 *
 * <p>In fail-safe mode ({@link Failsafe}) a cut from ZooKeeper fences only without the clones:
 * while SUSPENDED, and LOST too, this main asks every clone to acknowledge it, and each round all
 * of them acknowledged moves the deadline to that round's start plus {@code suspendBound}; the
 * deadline passed, it fences as above. Back on ZooKeeper it verifies the epoch (fences if it
 * moved) and then runs {@link Failsafe#resumed()}. Curator's PersistentNode recreates the member
 * znode on the new session by itself.
 *
 * <p>Time comes from the caller ({@link #start(CuratorFramework, ZkLayout, String, Epoch, Duration,
 * Duration, FenceAction, FenceMarker, InstantSource, TaskTimer)}): the timer fires the suspension
 * bound, the clock stamps the reason; tests pass a manual one. Lifecycle: LATENT, STARTED by
 * {@code start}, CLOSED by {@link #close()} (idempotent); once closed, no state change fences.
 */
public final class FencingWatcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FencingWatcher.class);

    /** Stops the exporter and the VM at once. Must not block for long; must not throw. */
    @FunctionalInterface
    public interface FenceAction {
        void fence(FenceReason reason);
    }

    private final CuratorFramework client;
    private final ZkLayout layout;
    private final String node;
    private final Epoch mine;
    private final Duration suspendBound;
    private final FenceAction action;
    private final FenceMarker marker;
    private final InstantSource clock;
    /** Fires the suspension deadline only, so a slow ZooKeeper call can never delay it. */
    private final TaskTimer timer;
    /** Closed with the watcher only when the watcher made it. */
    private final boolean ownsTimer;
    private final LifecycleState lifecycle;
    /** Runs epoch checks, which block in Curator's retry loop while the connection is down. */
    private final ExecutorService checker;
    private final AtomicBoolean fenced = new AtomicBoolean();
    private final AtomicReference<TaskTimer.Scheduled> suspendedTimer = new AtomicReference<>();
    private final ConnectionStateListener connectionListener = this::connectionChanged;
    private final CuratorCache epochCache;
    private final Optional<Failsafe> failsafe;
    /** Measures the fail-safe deadline: monotonic outside tests. */
    private final InstantSource ticks;
    private final java.util.concurrent.Executor askers;
    /** Guards the fail-safe state below and the re-arming of {@link #suspendedTimer}. */
    private final Object cutLock = new Object();
    private boolean cut;
    private boolean sessionLost;
    private Instant deadline;
    /** A round of this cut was acknowledged by every clone. */
    private boolean vouched;
    private FailsafeLoop loop;
    private volatile String missing = "";

    private FencingWatcher(CuratorFramework client, ZkLayout layout, String node, Epoch mine, Duration suspendBound,
                           FenceAction action, FenceMarker marker, InstantSource clock, TaskTimer timer, boolean ownsTimer,
                           Optional<Failsafe> failsafe, InstantSource ticks, java.util.concurrent.Executor askers) {
        this.client = client;
        this.layout = layout;
        this.node = node;
        this.mine = mine;
        this.suspendBound = suspendBound;
        this.action = action;
        this.marker = marker;
        this.clock = clock;
        this.timer = timer;
        this.ownsTimer = ownsTimer;
        this.lifecycle = new LifecycleState("fencing watcher of " + node);
        this.checker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "epoch-check-" + node);
            t.setDaemon(true);
            return t;
        });
        this.epochCache = CuratorCache.build(client, layout.epochPath(), CuratorCache.Options.SINGLE_NODE_CACHE);
        this.failsafe = failsafe;
        this.ticks = ticks;
        this.askers = askers;
    }

    /**
     * Starts watching for the main {@code node} of epoch {@code mine}. {@code suspendBound}
     * must be shorter than the session timeout {@code sessionTimeout}.
     */
    public static FencingWatcher start(CuratorFramework client, ZkLayout layout, String node, Epoch mine,
                                       Duration suspendBound, Duration sessionTimeout, FenceAction action, FenceMarker marker) {
        return start(client, layout, node, mine, suspendBound, sessionTimeout, action, marker, Optional.empty());
    }

    /** As above, in fail-safe mode when {@code failsafe} is given: its calls run on threads of the watcher's own. */
    public static FencingWatcher start(CuratorFramework client, ZkLayout layout, String node, Epoch mine,
                                       Duration suspendBound, Duration sessionTimeout, FenceAction action, FenceMarker marker,
                                       Optional<Failsafe> failsafe) {
        requireBound(suspendBound, sessionTimeout);
        ExecutorService askers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "failsafe-ask-" + node);
            t.setDaemon(true);
            return t;
        });
        try {
            return begin(new FencingWatcher(client, layout, node, mine, suspendBound, action, marker, Clock.systemUTC(),
                    TaskTimer.system("fencing-" + node), true, failsafe, MONOTONIC, askers));
        } finally {
            if (failsafe.isEmpty()) {
                askers.shutdown();
            }
        }
    }

    /** Nanosecond ticks that never jump with the wall clock. */
    private static final InstantSource MONOTONIC = () -> Instant.EPOCH.plusNanos(System.nanoTime());

    /**
     * As {@link #start(CuratorFramework, ZkLayout, String, Epoch, Duration, Duration, FenceAction, FenceMarker)},
     * on the caller's time: {@code timer} fires the suspension bound and {@code clock} stamps the
     * fence reason. The caller owns the timer (closing the watcher cancels only its own task).
     */
    public static FencingWatcher start(CuratorFramework client, ZkLayout layout, String node, Epoch mine,
                                       Duration suspendBound, Duration sessionTimeout, FenceAction action, FenceMarker marker,
                                       InstantSource clock, TaskTimer timer) {
        return start(client, layout, node, mine, suspendBound, sessionTimeout, action, marker, clock, timer, Optional.empty(),
                Runnable::run);
    }

    /**
     * As above in fail-safe mode: {@code clock} also measures the fail-safe deadline and
     * {@code askers} runs the calls to the clones (a test passes {@code Runnable::run}).
     */
    public static FencingWatcher start(CuratorFramework client, ZkLayout layout, String node, Epoch mine,
                                       Duration suspendBound, Duration sessionTimeout, FenceAction action, FenceMarker marker,
                                       InstantSource clock, TaskTimer timer, Optional<Failsafe> failsafe,
                                       java.util.concurrent.Executor askers) {
        requireBound(suspendBound, sessionTimeout);
        return begin(new FencingWatcher(client, layout, node, mine, suspendBound, action, marker, clock, timer, false, failsafe,
                clock, askers));
    }

    private static void requireBound(Duration suspendBound, Duration sessionTimeout) {
        if (suspendBound.compareTo(sessionTimeout) >= 0 || suspendBound.isNegative()) {
            throw new IllegalArgumentException("the suspend bound (" + suspendBound.toMillis() + " ms) must be shorter than the "
                    + "ZooKeeper session timeout (" + sessionTimeout.toMillis() + " ms), or a clone could be promoted while this main still runs");
        }
    }

    /** Starts watching; a start that fails part-way closes what it began. */
    private static FencingWatcher begin(FencingWatcher w) {
        try {
            w.watch();
            return w;
        } catch (RuntimeException | Error e) {
            w.close();
            throw e;
        }
    }

    private void watch() {
        lifecycle.markStarted();
        client.getConnectionStateListenable().addListener(connectionListener);
        epochCache.listenable().addListener(CuratorCacheListener.builder()
                .forCreatesAndChanges((before, after) -> epochSeen(after))
                .forDeletes(old -> fence("the epoch node " + layout.epochPath() + " was deleted"))
                .build());
        epochCache.start();
        failsafe.ifPresent(f -> f.clones().forEach(clone -> {
            try {
                askers.execute(() -> f.channel().warmUp(clone));
            } catch (RejectedExecutionException closing) {
                LOG.debug("Main {}: closing before the warm-up", node);
            }
        }));
        checker.execute(() -> verifyEpoch()); // the epoch may have moved before we started watching
    }

    public boolean isFenced() {
        return fenced.get();
    }

    private void connectionChanged(CuratorFramework c, ConnectionState state) {
        if (!lifecycle.isStarted()) {
            return; // closed: this main's services are being stopped by their owner
        }
        switch (state) {
            case SUSPENDED -> cutOff();
            case LOST -> {
                if (failsafe.isEmpty()) {
                    fence("ZooKeeper session lost");
                } else {
                    // The session's ephemeral nodes are gone; the clones still vouch for the epoch.
                    LOG.warn("Main {}: ZooKeeper session lost; fail-safe: running on while every clone acknowledges", node);
                    synchronized (cutLock) {
                        sessionLost = true;
                    }
                    cutOff();
                }
            }
            case RECONNECTED, CONNECTED -> {
                synchronized (cutLock) {
                    cut = false;
                    deadline = null;
                    if (loop != null) {
                        loop.close();
                        loop = null;
                    }
                    cancel(suspendedTimer.getAndSet(null));
                }
                // A reconnect may be on a new session after the epoch moved: check before going on.
                try {
                    checker.execute(this::verifyAndResume);
                } catch (RejectedExecutionException closed) {
                    LOG.debug("Main {}: reconnected while closing", node);
                }
            }
            default -> LOG.debug("Main {}: connection state {}", node, state);
        }
    }

    /** SUSPENDED (or LOST in fail-safe mode): the deadline is armed once per cut, the rounds start. */
    private void cutOff() {
        synchronized (cutLock) {
            if (cut || fenced.get()) {
                return;
            }
            cut = true;
            vouched = false;
            missing = "";
            deadline = ticks.instant().plus(suspendBound);
            if (failsafe.isPresent()) {
                LOG.warn("Main {}: ZooKeeper connection suspended; fail-safe: fencing in {} ms unless every clone ({})"
                        + " acknowledges this main meanwhile", node, suspendBound.toMillis(), String.join(", ",
                        new java.util.TreeSet<>(failsafe.get().clones())));
            } else {
                LOG.warn("Main {}: ZooKeeper connection suspended; fencing in {} ms unless it comes back", node, suspendBound.toMillis());
            }
            arm(suspendBound);
            failsafe.ifPresent(f -> {
                loop = new FailsafeLoop(f, ackRequest(f), ticks, timer, askers, this::roundEnded);
                loop.start();
            });
        }
    }

    /**
     * "This main owns its epoch; promise no promotion for the bound and one interval": the promise
     * outlasts this main's deadline by one interval, so the fence timer's lag and the fence itself
     * fit in it (found by FailsafeChannelTest: a promise of exactly B ended 1 ms before the fence).
     */
    private AckChannel.AckRequest ackRequest(Failsafe f) {
        return new AckChannel.AckRequest(f.instance(), node, mine.number(), suspendBound.plus(f.interval()).toMillis());
    }

    /** Under {@link #cutLock}: the fence fires {@code delay} from now, unless re-armed or cancelled. */
    private void arm(Duration delay) {
        try {
            cancel(suspendedTimer.getAndSet(timer.schedule(delay, this::deadlinePassed)));
        } catch (RejectedExecutionException closed) {
            LOG.debug("Main {}: suspended while closing", node);
        }
    }

    private void deadlinePassed() {
        synchronized (cutLock) {
            if (!cut || deadline == null || ticks.instant().isBefore(deadline)) {
                return; // re-armed meanwhile, or back on ZooKeeper
            }
        }
        fence(failsafe.isEmpty() ? "cut from ZooKeeper for more than " + suspendBound.toMillis() + " ms"
                : "cut from ZooKeeper for more than " + suspendBound.toMillis() + " ms without every clone's acknowledgement"
                + (missing.isEmpty() ? "" : " (" + missing + ")"));
    }

    /** A round ended: all acknowledged moves the deadline to its start plus the bound. */
    private void roundEnded(Instant started, List<AckChannel.AckAnswer> answers) {
        String notAcknowledged = FailsafeLoop.missing(answers);
        if (!notAcknowledged.isEmpty()) {
            missing = notAcknowledged;
            LOG.warn("Main {}: fail-safe round without every acknowledgement: {}", node, missing);
            return;
        }
        synchronized (cutLock) {
            Instant next = started.plus(suspendBound);
            if (!cut || fenced.get() || deadline == null || !next.isAfter(deadline)) {
                return;
            }
            deadline = next;
            vouched = true;
            missing = "";
            Duration left = Duration.between(ticks.instant(), next);
            arm(left.isNegative() ? Duration.ZERO : left);
        }
    }

    /**
     * True while this main is cut from ZooKeeper and every clone acknowledged it within the bound
     * (fail-safe mode): its backups may go on. False when connected, fenced, or not in fail-safe mode.
     */
    public boolean failsafeHolds() {
        synchronized (cutLock) {
            return failsafe.isPresent() && cut && vouched && !fenced.get() && deadline != null
                    && deadline.isAfter(ticks.instant());
        }
    }

    /**
     * Fail-safe mode, one round asked now, outside a cut: for the VM watchdog's proof when
     * ZooKeeper cannot give one although Curator still counts the connection up (a server that went
     * silent, its host cut, is noticed only after the client's read timeout, 2/3 of the session,
     * longer than a lease with the defaults). True when every clone acknowledged within
     * {@code timeout}: each then promised, after this call began, no promotion for B plus a round
     * (docs/takeover.md, "The VM watchdog"). False when fenced or not in fail-safe mode.
     */
    public boolean clonesVouchNow(Duration timeout) {
        Failsafe f = failsafe.orElse(null);
        if (f == null || fenced.get()) {
            return false;
        }
        List<AckChannel.AckAnswer> answers;
        try {
            answers = FailsafeLoop.askAll(f, ackRequest(f), timeout, askers)
                    .get(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            LOG.warn("Main {}: no proof from ZooKeeper, and not every clone acknowledged this main within {} ms", node,
                    timeout.toMillis());
            return false;
        }
        String missing = FailsafeLoop.missing(answers);
        if (!missing.isEmpty()) {
            LOG.warn("Main {}: no proof from ZooKeeper, and not every clone acknowledged this main: {}", node, missing);
            return false;
        }
        return !fenced.get();
    }

    private void verifyAndResume() {
        if (verifyEpoch()) {
            boolean lost;
            synchronized (cutLock) {
                lost = sessionLost;
                sessionLost = false;
            }
            if (lost) {
                LOG.warn("Main {}: back on ZooKeeper on a new session; epoch {} is still this main's: going on", node, mine.number());
            }
            failsafe.ifPresent(f -> {
                try {
                    f.resumed().run();
                } catch (RuntimeException e) {
                    LOG.warn("Main {}: resuming after the reconnect failed: {}", node, e.getMessage(), e);
                }
            });
        }
    }

    private static void cancel(TaskTimer.Scheduled t) {
        if (t != null) {
            t.cancel();
        }
    }

    /** True when the epoch was read and is still this main's. */
    private boolean verifyEpoch() {
        if (fenced.get() || !lifecycle.isStarted()) {
            return false;
        }
        try {
            org.apache.zookeeper.data.Stat stat = new org.apache.zookeeper.data.Stat();
            client.getData().storingStatIn(stat).forPath(layout.epochPath());
            if (stat.getVersion() != mine.version()) {
                fence("the epoch moved on (version " + stat.getVersion() + ", this main owns version " + mine.version() + ")");
                return false;
            }
            return true;
        } catch (org.apache.zookeeper.KeeperException.NoNodeException e) {
            fence("the epoch node " + layout.epochPath() + " is gone");
        } catch (Exception e) { // Curator declares Exception; the connection listener covers outages
            LOG.debug("Main {}: epoch check failed: {}", node, e.getMessage());
        }
        return false;
    }

    private void epochSeen(ChildData data) {
        if (data != null && data.getStat() != null && data.getStat().getVersion() != mine.version()) {
            fence("a newer epoch was set: " + new String(data.getData(), StandardCharsets.UTF_8));
        }
    }

    private void fence(String why) {
        if (!lifecycle.isStarted() || !fenced.compareAndSet(false, true)) {
            return;
        }
        FenceReason reason = new FenceReason(node, why, mine.number(), clock.instant());
        LOG.error("FENCING {}", reason);
        try {
            marker.write(reason);
        } catch (java.io.IOException e) {
            LOG.error("Main {}: cannot write the fence marker {}: {}", node, marker.file(), e.getMessage());
        }
        try {
            action.fence(reason);
        } catch (RuntimeException e) {
            LOG.error("Main {}: fence action failed", node, e);
        }
        announce(reason);
    }

    /** Best effort: tell the others; the local marker is what binds this node. */
    private void announce(FenceReason reason) {
        try {
            client.create().orSetData().creatingParentContainersIfNeeded().withMode(CreateMode.PERSISTENT).inBackground()
                    .forPath(layout.fencedPath(node), reason.toString().getBytes(StandardCharsets.UTF_8));
        } catch (Exception e) {
            LOG.debug("Main {}: cannot announce the fence now: {}", node, e.getMessage());
        }
    }

    /** The reason this node is fenced, if it is. */
    public Optional<FenceReason> reason() {
        return marker.read();
    }

    /** Stops watching (this main's owner is stopping it); later calls do nothing. */
    @Override
    public void close() {
        if (!lifecycle.markClosed()) {
            return;
        }
        client.getConnectionStateListenable().removeListener(connectionListener);
        epochCache.close();
        synchronized (cutLock) {
            if (loop != null) {
                loop.close();
                loop = null;
            }
        }
        cancel(suspendedTimer.getAndSet(null));
        if (ownsTimer) {
            timer.close();
        }
        checker.shutdownNow();
        if (ownsTimer && askers instanceof ExecutorService owned) {
            owned.shutdownNow();
        }
    }
}

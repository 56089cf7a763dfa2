package io.resilientkvm.takeover.fencing;

import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.engine.time.TaskTimer;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ZkLayout;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.InstantSource;
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

    private FencingWatcher(CuratorFramework client, ZkLayout layout, String node, Epoch mine, Duration suspendBound,
                           FenceAction action, FenceMarker marker, InstantSource clock, TaskTimer timer, boolean ownsTimer) {
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
    }

    /**
     * Starts watching for the main {@code node} of epoch {@code mine}. {@code suspendBound}
     * must be shorter than the session timeout {@code sessionTimeout}.
     */
    public static FencingWatcher start(CuratorFramework client, ZkLayout layout, String node, Epoch mine,
                                       Duration suspendBound, Duration sessionTimeout, FenceAction action, FenceMarker marker) {
        requireBound(suspendBound, sessionTimeout);
        return begin(new FencingWatcher(client, layout, node, mine, suspendBound, action, marker, Clock.systemUTC(),
                TaskTimer.system("fencing-" + node), true));
    }

    /**
     * As {@link #start(CuratorFramework, ZkLayout, String, Epoch, Duration, Duration, FenceAction, FenceMarker)},
     * on the caller's time: {@code timer} fires the suspension bound and {@code clock} stamps the
     * fence reason. The caller owns the timer (closing the watcher cancels only its own task).
     */
    public static FencingWatcher start(CuratorFramework client, ZkLayout layout, String node, Epoch mine,
                                       Duration suspendBound, Duration sessionTimeout, FenceAction action, FenceMarker marker,
                                       InstantSource clock, TaskTimer timer) {
        requireBound(suspendBound, sessionTimeout);
        return begin(new FencingWatcher(client, layout, node, mine, suspendBound, action, marker, clock, timer, false));
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
        checker.execute(this::verifyEpoch); // the epoch may have moved before we started watching
    }

    public boolean isFenced() {
        return fenced.get();
    }

    private void connectionChanged(CuratorFramework c, ConnectionState state) {
        if (!lifecycle.isStarted()) {
            return; // closed: this main's services are being stopped by their owner
        }
        switch (state) {
            case SUSPENDED -> {
                LOG.warn("Main {}: ZooKeeper connection suspended; fencing in {} ms unless it comes back", node, suspendBound.toMillis());
                try {
                    cancel(suspendedTimer.getAndSet(timer.schedule(suspendBound,
                            () -> fence("cut from ZooKeeper for more than " + suspendBound.toMillis() + " ms"))));
                } catch (RejectedExecutionException closed) {
                    LOG.debug("Main {}: suspended while closing", node);
                }
            }
            case LOST -> fence("ZooKeeper session lost");
            case RECONNECTED, CONNECTED -> {
                cancel(suspendedTimer.getAndSet(null));
                // A reconnect may be on a new session after the epoch moved: check before going on.
                try {
                    checker.execute(this::verifyEpoch);
                } catch (RejectedExecutionException closed) {
                    LOG.debug("Main {}: reconnected while closing", node);
                }
            }
            default -> LOG.debug("Main {}: connection state {}", node, state);
        }
    }

    private static void cancel(TaskTimer.Scheduled t) {
        if (t != null) {
            t.cancel();
        }
    }

    private void verifyEpoch() {
        if (fenced.get() || !lifecycle.isStarted()) {
            return;
        }
        try {
            org.apache.zookeeper.data.Stat stat = new org.apache.zookeeper.data.Stat();
            client.getData().storingStatIn(stat).forPath(layout.epochPath());
            if (stat.getVersion() != mine.version()) {
                fence("the epoch moved on (version " + stat.getVersion() + ", this main owns version " + mine.version() + ")");
            }
        } catch (org.apache.zookeeper.KeeperException.NoNodeException e) {
            fence("the epoch node " + layout.epochPath() + " is gone");
        } catch (Exception e) { // Curator declares Exception; the connection listener covers outages
            LOG.debug("Main {}: epoch check failed: {}", node, e.getMessage());
        }
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
        cancel(suspendedTimer.getAndSet(null));
        if (ownsTimer) {
            timer.close();
        }
        checker.shutdownNow();
    }
}

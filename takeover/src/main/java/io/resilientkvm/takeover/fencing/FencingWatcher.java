package io.resilientkvm.takeover.fencing;

import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ZkLayout;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
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
    private final Clock clock;
    /** Fires the suspension deadline only, so a slow ZooKeeper call can never delay it. */
    private final ScheduledExecutorService timer;
    /** Runs epoch checks, which block in Curator's retry loop while the connection is down. */
    private final ExecutorService checker;
    private final AtomicBoolean fenced = new AtomicBoolean();
    private final AtomicReference<ScheduledFuture<?>> suspendedTimer = new AtomicReference<>();
    private final ConnectionStateListener connectionListener = this::connectionChanged;
    private final CuratorCache epochCache;

    private FencingWatcher(CuratorFramework client, ZkLayout layout, String node, Epoch mine, Duration suspendBound,
                           FenceAction action, FenceMarker marker, Clock clock) {
        this.client = client;
        this.layout = layout;
        this.node = node;
        this.mine = mine;
        this.suspendBound = suspendBound;
        this.action = action;
        this.marker = marker;
        this.clock = clock;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "fencing-" + node);
            t.setDaemon(true);
            return t;
        });
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
        if (suspendBound.compareTo(sessionTimeout) >= 0 || suspendBound.isNegative()) {
            throw new IllegalArgumentException("the suspend bound (" + suspendBound.toMillis() + " ms) must be shorter than the "
                    + "ZooKeeper session timeout (" + sessionTimeout.toMillis() + " ms), or a clone could be promoted while this main still runs");
        }
        FencingWatcher w = new FencingWatcher(client, layout, node, mine, suspendBound, action, marker, Clock.systemUTC());
        w.begin();
        return w;
    }

    private void begin() {
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
        switch (state) {
            case SUSPENDED -> {
                LOG.warn("Main {}: ZooKeeper connection suspended; fencing in {} ms unless it comes back", node, suspendBound.toMillis());
                ScheduledFuture<?> t = timer.schedule(() -> fence("cut from ZooKeeper for more than " + suspendBound.toMillis() + " ms"),
                        suspendBound.toMillis(), TimeUnit.MILLISECONDS);
                ScheduledFuture<?> old = suspendedTimer.getAndSet(t);
                if (old != null) {
                    old.cancel(false);
                }
            }
            case LOST -> fence("ZooKeeper session lost");
            case RECONNECTED, CONNECTED -> {
                ScheduledFuture<?> t = suspendedTimer.getAndSet(null);
                if (t != null) {
                    t.cancel(false);
                }
                // A reconnect may be on a new session after the epoch moved: check before going on.
                checker.execute(this::verifyEpoch);
            }
            default -> LOG.debug("Main {}: connection state {}", node, state);
        }
    }

    private void verifyEpoch() {
        if (fenced.get()) {
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
        if (!fenced.compareAndSet(false, true)) {
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

    @Override
    public void close() {
        client.getConnectionStateListenable().removeListener(connectionListener);
        epochCache.close();
        timer.shutdownNow();
        checker.shutdownNow();
    }
}

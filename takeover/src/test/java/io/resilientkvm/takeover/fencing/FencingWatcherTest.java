package io.resilientkvm.takeover.fencing;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.curator.test.TestingServer;
import io.resilientkvm.engine.testing.ManualTime;
import io.resilientkvm.engine.testing.TestTiming;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fencing against a real embedded ZooKeeper that is stopped and restarted on purpose. The bound's
 * decision is checked on {@link ManualTime} (just before and at the bound, without waiting for
 * it); the safety property (fenced before the session expires) on real time, with the bound, the
 * session and the deadlines scaled by {@link TestTiming}.
 */
class FencingWatcherTest {
    private static final Duration SESSION = TestTiming.scaled(Duration.ofSeconds(6));
    private static final Duration BOUND = TestTiming.scaled(Duration.ofSeconds(2));
    /** On manual time the real session only has to outlast the test: it must not expire meanwhile. */
    private static final Duration LONG_SESSION = TestTiming.scaled(Duration.ofSeconds(30));
    private static final Duration DEADLINE = TestTiming.scaled(Duration.ofSeconds(10));

    @TempDir
    Path dir;

    private TestingServer zk;
    private CuratorFramework mainClient;
    /** For the tests on manual time: its real session outlasts the test, so it never expires meanwhile. */
    private CuratorFramework longClient;
    private final ManualTime time = new ManualTime();
    private final ZkLayout layout = new ZkLayout("/rkvm", "demo");
    private final List<FenceReason> fences = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
        // Pinned to this server so that a stopped server is a real cut.
        mainClient = ZkClients.connect(ZkSettings.of(zk.getConnectString()).withSessionTimeout(SESSION).withTrackEnsemble(false));
    }

    @AfterEach
    void stop() throws Exception {
        // A client closed while the server is down waits for its next reconnect attempt: close both at once.
        CompletableFuture<Void> closing = longClient == null ? CompletableFuture.completedFuture(null)
                : CompletableFuture.runAsync(longClient::close);
        mainClient.close();
        closing.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        zk.close();
    }

    private FencingWatcher watch(Epoch mine, FenceMarker marker) {
        return FencingWatcher.start(mainClient, layout, "main", mine, BOUND, SESSION, fences::add, marker);
    }

    @Test
    void aNewerEpochFencesTheMainAndLeavesADurableMarker() throws Exception {
        Epoch mine = new EpochStore(mainClient, layout).initialize("main");
        FenceMarker marker = new FenceMarker(dir.resolve("etc/fenced.json"));
        try (FencingWatcher w = watch(mine);
             CuratorFramework clone = ZkClients.connect(ZkSettings.of(zk.getConnectString()))) {
            assertFalse(w.isFenced());
            new EpochStore(clone, layout).advance(mine, "clone1");
            await().atMost(DEADLINE).until(() -> fences.size() == 1);
            assertTrue(fences.get(0).why().contains("newer epoch") || fences.get(0).why().contains("moved on"), fences.get(0).why());
            assertTrue(marker.isFenced());
            assertEquals(0, marker.read().orElseThrow().epoch());
            await().atMost(DEADLINE).until(() -> clone.checkExists().forPath(layout.fencedPath("main")) != null);
        }
        assertEquals(1, fences.size(), "the action runs once");
    }

    private FencingWatcher watch(Epoch mine) {
        return watch(mine, new FenceMarker(dir.resolve("etc/fenced.json")));
    }

    @Test
    void aMainStartedAfterItWasReplacedFencesAtOnce() throws Exception {
        Epoch stale = new EpochStore(mainClient, layout).initialize("main");
        new EpochStore(mainClient, layout).advance(stale, "clone1");
        try (FencingWatcher w = watch(stale)) {
            await().atMost(DEADLINE).until(w::isFenced);
        }
    }

    @Test
    void aMainCutFromZooKeeperFencesItselfBeforeItsSessionExpires() throws Exception {
        Epoch mine = new EpochStore(mainClient, layout).initialize("main");
        try (FencingWatcher w = watch(mine)) {
            long cut = System.nanoTime();
            zk.stop();
            // isFenced turns true a moment before the action has recorded the reason: wait for the reason.
            await().atMost(TestTiming.scaled(Duration.ofSeconds(20))).until(() -> !fences.isEmpty());
            Duration after = Duration.ofNanos(System.nanoTime() - cut);
            assertTrue(fences.get(0).why().contains("cut from ZooKeeper"), fences.get(0).why());
            // The safety property: fenced by the suspension bound, while the session could still be alive.
            assertTrue(after.compareTo(SESSION) < 0, "fenced after " + after + ", session timeout " + SESSION);
        }
    }

    /** A watcher on {@link #time}, over {@link #longClient}. */
    private FencingWatcher watchOnManualTime(Epoch mine) {
        if (longClient == null) {
            throw new IllegalStateException("call longClient() first");
        }
        return FencingWatcher.start(longClient, layout, "main", mine, BOUND, LONG_SESSION, fences::add,
                new FenceMarker(dir.resolve("etc/fenced.json")), time, time);
    }

    private CuratorFramework longClient() throws Exception {
        longClient = ZkClients.connect(ZkSettings.of(zk.getConnectString()).withSessionTimeout(LONG_SESSION).withTrackEnsemble(false));
        return longClient;
    }

    /** Stops ZooKeeper; the watcher arms its bound when Curator reports SUSPENDED. */
    private void cutAndAwaitTheBound() throws Exception {
        zk.stop();
        await().atMost(DEADLINE).until(() -> time.pending() == 1);
    }

    @Test
    void aCutFencesExactlyAtTheBoundOnTheInjectedClock() throws Exception {
        Epoch mine = new EpochStore(longClient(), layout).initialize("main");
        try (FencingWatcher w = watchOnManualTime(mine)) {
            cutAndAwaitTheBound();
            time.advance(BOUND.minusMillis(1));
            assertFalse(w.isFenced(), () -> "fenced before the bound: " + fences);
            time.advance(Duration.ofMillis(1));
            assertTrue(w.isFenced(), "not fenced at the bound");
            assertEquals(1, fences.size());
            assertTrue(fences.get(0).why().contains("cut from ZooKeeper for more than " + BOUND.toMillis() + " ms"), fences.get(0).why());
            assertEquals(new ManualTime().instant().plus(BOUND), fences.get(0).at(), "the reason carries the injected clock");
        }
    }

    @Test
    void aShortBlipDoesNotFence() throws Exception {
        Epoch mine = new EpochStore(longClient(), layout).initialize("main");
        try (FencingWatcher w = watchOnManualTime(mine)) {
            cutAndAwaitTheBound();
            time.advance(BOUND.minusMillis(1)); // cut for just under the bound
            zk.restart();
            await().atMost(TestTiming.scaled(Duration.ofSeconds(20))).until(() -> longClient.getZookeeperClient().isConnected());
            // RECONNECTED calls the bound off; later time passing does not fence.
            await().atMost(DEADLINE).until(() -> time.pending() == 0);
            time.advance(BOUND.multipliedBy(10));
            // Still main: the epoch check after the reconnect passed, and a write under the epoch works.
            new EpochStore(longClient, layout).writeUnderEpoch(mine, List.of(longClient.transactionOp().create().forPath(layout.instancePath() + "/probe")));
            assertFalse(w.isFenced(), () -> "fenced: " + fences);
        }
    }

    @Test
    void closeIsIdempotentAndAClosedWatcherNeitherFencesNorLeavesAThread() throws Exception {
        Epoch mine = new EpochStore(longClient(), layout).initialize("main");
        // On system time: the watcher's own threads end with it (its timer's thread starts at the first cut).
        FencingWatcher onSystemTime = watch(mine);
        await().atMost(DEADLINE).until(() -> threadNamed("epoch-check-main"));
        onSystemTime.close();
        onSystemTime.close(); // idempotent
        await().atMost(DEADLINE).until(() -> !threadNamed("fencing-main") && !threadNamed("epoch-check-main"));
        // On manual time: closing calls an armed bound off, and no later time fences.
        FencingWatcher onManualTime = watchOnManualTime(mine);
        cutAndAwaitTheBound();
        onManualTime.close();
        onManualTime.close();
        assertEquals(0, time.pending(), "close calls the armed bound off");
        time.advance(BOUND.multipliedBy(10));
        assertFalse(onManualTime.isFenced() || onSystemTime.isFenced(), () -> "fenced after close: " + fences);
        await().atMost(DEADLINE).until(() -> !threadNamed("epoch-check-main"));
        zk.restart();
        assertTrue(fences.isEmpty(), () -> "fenced after close: " + fences);
    }

    private static boolean threadNamed(String name) {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.isAlive() && t.getName().equals(name));
    }

    @Test
    void theSuspendBoundMustBeShorterThanTheSession() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FencingWatcher.start(mainClient, layout, "main",
                new Epoch(0, "main", java.time.Instant.now(), 0), SESSION, SESSION, fences::add, new FenceMarker(dir.resolve("f"))));
        assertTrue(e.getMessage().contains("shorter than"), e.getMessage());
    }
}

package io.resilientkvm.takeover.fencing;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.curator.test.TestingServer;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Fencing against a real embedded ZooKeeper that is stopped and restarted on purpose. */
class FencingWatcherTest {
    private static final Duration SESSION = Duration.ofSeconds(6);
    private static final Duration BOUND = Duration.ofSeconds(2);

    @TempDir
    Path dir;

    private TestingServer zk;
    private CuratorFramework mainClient;
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
        mainClient.close();
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
            await().atMost(Duration.ofSeconds(10)).until(() -> fences.size() == 1);
            assertTrue(fences.get(0).why().contains("newer epoch") || fences.get(0).why().contains("moved on"), fences.get(0).why());
            assertTrue(marker.isFenced());
            assertEquals(0, marker.read().orElseThrow().epoch());
            await().atMost(Duration.ofSeconds(10)).until(() -> clone.checkExists().forPath(layout.fencedPath("main")) != null);
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
            await().atMost(Duration.ofSeconds(10)).until(w::isFenced);
        }
    }

    @Test
    void aMainCutFromZooKeeperFencesItselfBeforeItsSessionExpires() throws Exception {
        Epoch mine = new EpochStore(mainClient, layout).initialize("main");
        try (FencingWatcher w = watch(mine)) {
            long cut = System.nanoTime();
            zk.stop();
            // isFenced turns true a moment before the action has recorded the reason: wait for the reason.
            await().atMost(Duration.ofSeconds(20)).until(() -> !fences.isEmpty());
            Duration after = Duration.ofNanos(System.nanoTime() - cut);
            assertTrue(fences.get(0).why().contains("cut from ZooKeeper"), fences.get(0).why());
            // The safety property: fenced by the suspension bound, while the session could still be alive.
            assertTrue(after.compareTo(SESSION) < 0, "fenced after " + after + ", session timeout " + SESSION);
        }
    }

    @Test
    void aShortBlipDoesNotFence() throws Exception {
        Epoch mine = new EpochStore(mainClient, layout).initialize("main");
        try (FencingWatcher w = watch(mine)) {
            zk.stop();
            await().atMost(Duration.ofSeconds(10)).until(() -> !mainClient.getZookeeperClient().isConnected());
            zk.restart();
            await().atMost(Duration.ofSeconds(20)).until(() -> mainClient.getZookeeperClient().isConnected());
            // Still main: the epoch check after the reconnect passed, and a write under the epoch works.
            new EpochStore(mainClient, layout).writeUnderEpoch(mine, List.of(mainClient.transactionOp().create().forPath(layout.instancePath() + "/probe")));
            assertFalse(w.isFenced(), () -> "fenced: " + fences);
        }
    }

    @Test
    void theSuspendBoundMustBeShorterThanTheSession() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FencingWatcher.start(mainClient, layout, "main",
                new Epoch(0, "main", java.time.Instant.now(), 0), SESSION, SESSION, fences::add, new FenceMarker(dir.resolve("f"))));
        assertTrue(e.getMessage().contains("shorter than"), e.getMessage());
    }
}

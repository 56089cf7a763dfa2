package io.resilientkvm.exporter.lock;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.instance.VmHost;
import io.resilientkvm.engine.testing.TestTiming;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.BackupResult;
import io.resilientkvm.exporter.schedule.BackupRunner;
import org.apache.curator.test.TestingServer;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One exporter per instance across the cluster, with a real (embedded) ZooKeeper. */
class ClusterExporterLockTest {
    private static final Duration SHORT = Duration.ofMillis(500);

    @TempDir
    Path dir;

    private TestingServer zk;

    @BeforeEach
    void startZooKeeper() throws Exception {
        zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
    }

    @AfterEach
    void stopZooKeeper() throws Exception {
        zk.close();
    }

    private NodeConfig node(String name, String connect) {
        return new NodeConfig(name, "vm1", dir.resolve(name), dir.resolve("params.json"), true, VmHost.loopback(),
                new NodeConfig.Zookeeper(connect, ZkLayout.DEFAULT_BASE, Duration.ofSeconds(10), Duration.ofSeconds(5)),
                null);
    }

    @Test
    void aSecondExporterIsRefusedWithTheHolderNamedAndGetsTheLockOnceReleased() throws Exception {
        ClusterExporterLock first = ClusterExporterLock.forNode(node("node-a", zk.getConnectString()), SHORT).orElseThrow();
        RefusedException refused;
        try (first) {
            refused = assertThrows(RefusedException.class,
                    () -> ClusterExporterLock.forNode(node("node-b", zk.getConnectString()), SHORT));
        }
        String m = refused.getMessage();
        assertTrue(m.contains("node=node-a") && m.contains("pid=" + ProcessHandle.current().pid()) && m.contains("host="),
                m);
        assertTrue(m.contains(new ZkLayout(ZkLayout.DEFAULT_BASE, "vm1").exporterLockPath()), m);
        try (ClusterExporterLock second = ClusterExporterLock.forNode(node("node-b", zk.getConnectString()), SHORT)
                .orElseThrow()) {
            assertEquals("/resilient-kvm/instances/vm1/locks/exporter", second.path());
        }
    }

    @Test
    void twoLocksOnSharedClientsAndTheLockNodeGoneAfterClose() throws Exception {
        String path = new ZkLayout(ZkLayout.DEFAULT_BASE, "vm1").exporterLockPath();
        try (CuratorFramework a = ZkClients.connect(ZkSettings.of(zk.getConnectString()));
                CuratorFramework b = ZkClients.connect(ZkSettings.of(zk.getConnectString()))) {
            try (ClusterExporterLock held = ClusterExporterLock.acquire(a, path, "node-a", SHORT)) {
                RefusedException e = assertThrows(RefusedException.class,
                        () -> ClusterExporterLock.acquire(b, path, "node-b", SHORT));
                assertTrue(e.getMessage().contains("held by node=node-a"), e.getMessage());
                assertEquals(1, a.getChildren().forPath(path).size(), "only the holder's node; the loser removed its own");
            }
            assertTrue(a.getChildren().forPath(path).isEmpty(), "released on close");
            ClusterExporterLock.acquire(b, path, "node-b", SHORT).close();
        }
    }

    /** A client pinned to this server (a stopped server is a real cut) with the given session. */
    private CuratorFramework pinned(Duration session) throws Exception {
        return ZkClients.connect(ZkSettings.of(zk.getConnectString()).withSessionTimeout(session).withTrackEnsemble(false));
    }

    private static final Duration DEADLINE = TestTiming.scaled(Duration.ofSeconds(30));
    private final BackupRequest request = BackupRequest.of(Path.of("qmp.sock"), Path.of("repository"));

    @Test
    void aSuspendedConnectionPausesBackupsAndAReconnectResumesThemAfterReVerifying() throws Exception {
        String path = new ZkLayout(ZkLayout.DEFAULT_BASE, "vm1").exporterLockPath();
        AtomicInteger runs = new AtomicInteger();
        BackupRunner counting = r -> {
            runs.incrementAndGet();
            return new BackupResult(List.of());
        };
        try (CuratorFramework client = pinned(Duration.ofSeconds(30));
                ClusterExporterLock lock = ClusterExporterLock.acquire(client, path, "node-a", SHORT)) {
            BackupRunner guarded = lock.guard(counting, SHORT);
            assertTrue(lock.isOwned());
            guarded.run(request);
            assertEquals(1, runs.get());

            zk.stop();
            await().atMost(DEADLINE).until(() -> lock.ownership() == ClusterExporterLock.Ownership.SUSPENDED);
            assertFalse(lock.isOwned());
            RefusedException paused = assertThrows(RefusedException.class, () -> guarded.run(request));
            assertTrue(paused.getMessage().contains("is suspended") && paused.getMessage().contains(path), paused.getMessage());
            // A run that starts now waits for the connection instead of running without the lock.
            CompletableFuture<BackupResult> waiting = CompletableFuture.supplyAsync(() -> {
                try {
                    return lock.guard(counting, DEADLINE).run(request);
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });
            assertEquals(1, runs.get(), "no backup ran while suspended");

            zk.restart();
            await().atMost(DEADLINE).until(lock::isOwned);
            waiting.get(DEADLINE.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            assertEquals(2, runs.get(), "the waiting run went on once the lock was re-verified");
            assertEquals(1, client.getChildren().forPath(path).size(), "still our lock node, on the same session");
        }
    }

    @Test
    void aLostSessionGivesTheLockUpForGood() throws Exception {
        String path = new ZkLayout(ZkLayout.DEFAULT_BASE, "vm1").exporterLockPath();
        AtomicInteger runs = new AtomicInteger();
        // The shortest session the test server allows (two ticks), so that it is lost soon.
        try (CuratorFramework client = pinned(Duration.ofSeconds(6));
                ClusterExporterLock lock = ClusterExporterLock.acquire(client, path, "node-a", SHORT)) {
            zk.stop();
            await().atMost(DEADLINE).until(() -> lock.ownership() == ClusterExporterLock.Ownership.LOST);
            zk.restart();
            await().atMost(DEADLINE).until(() -> client.getZookeeperClient().isConnected());
            assertFalse(lock.awaitOwned(SHORT), "a lost lock never comes back on its own");
            RefusedException lost = assertThrows(RefusedException.class, () -> lock.guard(r -> {
                runs.incrementAndGet();
                return new BackupResult(List.of());
            }, SHORT).run(request));
            assertTrue(lost.getMessage().contains("was lost") && lost.getMessage().contains("restart this exporter"), lost.getMessage());
            assertEquals(0, runs.get());
            // The old session's lock node goes with that session: another exporter can take the lock.
            try (CuratorFramework other = pinned(Duration.ofSeconds(30))) {
                try (ClusterExporterLock second = ClusterExporterLock.acquire(other, path, "node-b", DEADLINE)) {
                    assertTrue(second.isOwned());
                }
            }
        }
    }

    @Test
    void inFailsafeModeBackupsGoOnThroughAnExpiredSessionAndTheLockIsTakenAgainOnTheReconnect() throws Exception {
        String path = new ZkLayout(ZkLayout.DEFAULT_BASE, "vm1").exporterLockPath();
        AtomicInteger runs = new AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean vouched = new java.util.concurrent.atomic.AtomicBoolean(true);
        BackupRunner counting = r -> {
            runs.incrementAndGet();
            return new BackupResult(List.of());
        };
        try (CuratorFramework client = pinned(Duration.ofSeconds(6));
                ClusterExporterLock lock = ClusterExporterLock.acquire(client, path, "node-a", SHORT)) {
            lock.vouchedBy(vouched::get); // the fencing watcher's failsafeHolds in the node
            BackupRunner guarded = lock.guard(counting, SHORT);
            zk.stop();
            await().atMost(DEADLINE).until(() -> lock.ownership() == ClusterExporterLock.Ownership.SUSPENDED);
            guarded.run(request);
            await().atMost(DEADLINE).until(() -> lock.ownership() == ClusterExporterLock.Ownership.EXPIRED);
            guarded.run(request);
            assertEquals(2, runs.get(), "both backups ran while the clones vouched");
            vouched.set(false); // a clone stopped acknowledging: the main is about to fence
            RefusedException refused = assertThrows(RefusedException.class, () -> guarded.run(request));
            assertTrue(refused.getMessage().contains("expired"), refused.getMessage());
            vouched.set(true);
            zk.restart();
            await().atMost(DEADLINE).until(() -> lock.ownership() == ClusterExporterLock.Ownership.OWNED);
            List<String> nodes = client.getChildren().forPath(path);
            assertEquals(1, nodes.size());
            assertEquals(client.getZookeeperClient().getZooKeeper().getSessionId(),
                    client.checkExists().forPath(path + "/" + nodes.get(0)).getEphemeralOwner(), "our node, on the new session");
            guarded.run(request);
            assertEquals(3, runs.get());
        }
        try (CuratorFramework other = pinned(Duration.ofSeconds(30))) {
            assertTrue(other.getChildren().forPath(path).isEmpty(), "the retaken lock was released on close");
        }
    }

    /**
     * The bed's failure: ZooKeeper back for a moment after an expired session, then gone again
     * while the lock was being taken again (the old session's lock node outlives a restart by a
     * session, so the retake waits behind it). The second loss must leave the lock EXPIRED, not
     * lost for good, and the next reconnect takes it.
     */
    @Test
    void inFailsafeModeASecondOutageDuringTheRetakeKeepsTheLockAndTheNextReconnectTakesIt() throws Exception {
        String path = new ZkLayout(ZkLayout.DEFAULT_BASE, "vm1").exporterLockPath();
        AtomicInteger runs = new AtomicInteger();
        AtomicInteger losses = new AtomicInteger();
        BackupRunner counting = r -> {
            runs.incrementAndGet();
            return new BackupResult(List.of());
        };
        try (CuratorFramework client = pinned(Duration.ofSeconds(4));
                ClusterExporterLock lock = ClusterExporterLock.acquire(client, path, "node-a", SHORT)) {
            client.getConnectionStateListenable().addListener((c, state) -> {
                if (state == org.apache.curator.framework.state.ConnectionState.LOST) {
                    losses.incrementAndGet();
                }
            });
            lock.vouchedBy(() -> true);
            BackupRunner guarded = lock.guard(counting, SHORT);
            zk.stop();
            await().atMost(DEADLINE).until(() -> lock.ownership() == ClusterExporterLock.Ownership.EXPIRED);
            zk.restart();
            // The retake waits behind the old session's node: two lock nodes, ours still EXPIRED.
            await().atMost(DEADLINE).pollInterval(Duration.ofMillis(20)).until(() -> client.getZookeeperClient().isConnected()
                    && lock.ownership() == ClusterExporterLock.Ownership.EXPIRED && children(client, path) == 2);
            zk.stop();
            await().atMost(DEADLINE).until(() -> losses.get() == 2);
            assertEquals(ClusterExporterLock.Ownership.EXPIRED, lock.ownership(), "lost again while taken again: still EXPIRED");
            guarded.run(request);
            assertEquals(1, runs.get(), "a backup ran while the clones vouched");
            zk.restart();
            await().atMost(DEADLINE).until(() -> lock.ownership() == ClusterExporterLock.Ownership.OWNED);
            List<String> nodes = client.getChildren().forPath(path);
            assertEquals(1, nodes.size(), "the old sessions' nodes are gone: " + nodes);
            assertEquals(client.getZookeeperClient().getZooKeeper().getSessionId(),
                    client.checkExists().forPath(path + "/" + nodes.get(0)).getEphemeralOwner(), "our node, on the newest session");
            guarded.run(request);
            assertEquals(2, runs.get());
        }
    }

    private static int children(CuratorFramework client, String path) {
        try {
            return client.getChildren().forPath(path).size();
        } catch (Exception e) { // not reachable at this instant: not yet
            return -1;
        }
    }

    @Test
    void inFailsafeModeAnExpiredSessionWithoutTheClonesRunsNoBackup() throws Exception {
        String path = new ZkLayout(ZkLayout.DEFAULT_BASE, "vm1").exporterLockPath();
        try (CuratorFramework client = pinned(Duration.ofSeconds(6));
                ClusterExporterLock lock = ClusterExporterLock.acquire(client, path, "node-a", SHORT)) {
            lock.vouchedBy(() -> false);
            zk.stop();
            await().atMost(DEADLINE).until(() -> lock.ownership() == ClusterExporterLock.Ownership.EXPIRED);
            assertFalse(lock.isOwned());
            RefusedException refused = assertThrows(RefusedException.class, () -> lock.requireOwned(SHORT));
            assertTrue(refused.getMessage().contains("expired"), refused.getMessage());
            zk.restart();
        }
    }

    @Test
    void closeIsIdempotentAndReleases() throws Exception {
        String path = new ZkLayout(ZkLayout.DEFAULT_BASE, "vm1").exporterLockPath();
        try (CuratorFramework client = ZkClients.connect(ZkSettings.of(zk.getConnectString()))) {
            ClusterExporterLock lock = ClusterExporterLock.acquire(client, path, "node-a", SHORT);
            lock.close();
            lock.close();
            assertEquals(ClusterExporterLock.Ownership.RELEASED, lock.ownership());
            assertFalse(lock.awaitOwned(SHORT));
            RefusedException e = assertThrows(RefusedException.class, () -> lock.requireOwned(SHORT));
            assertTrue(e.getMessage().contains("released"), e.getMessage());
            assertTrue(client.getChildren().forPath(path).isEmpty());
        }
    }

    @Test
    void aStandAloneNodeTakesNoClusterLock() throws Exception {
        assertEquals(Optional.empty(), ClusterExporterLock.forNode(node("node-a", ""), SHORT));
    }
}

package io.resilientkvm.exporter.lock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.instance.VmHost;
import org.apache.curator.test.TestingServer;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
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

    @Test
    void aStandAloneNodeTakesNoClusterLock() throws Exception {
        assertEquals(Optional.empty(), ClusterExporterLock.forNode(node("node-a", ""), SHORT));
    }
}

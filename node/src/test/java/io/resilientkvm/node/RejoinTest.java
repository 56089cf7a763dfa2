package io.resilientkvm.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.Outcome;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.takeover.fencing.FenceMarker;
import io.resilientkvm.takeover.fencing.FenceReason;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import io.resilientkvm.takeover.protocol.FencedNodes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fenced old main coming back (a real ZooKeeper, a real agent): it rejoins as a clone by itself
 * once another node runs as the main of a newer epoch, and only then; {@code rejoin: manual}
 * leaves it to the operator.
 */
class RejoinTest {
    private static final ZkLayout ZK = new ZkLayout("/rkvm-test", "rejoin");

    @TempDir
    Path dir;
    private TestingServer zk;
    private CuratorFramework observer;
    private EpochStore epochs;

    @BeforeEach
    void zooKeeper() throws Exception {
        zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
        observer = ZkClients.connect(ZkSettings.of(zk.getConnectString()));
        epochs = new EpochStore(observer, ZK);
    }

    @AfterEach
    void close() throws Exception {
        observer.close();
        zk.close();
    }

    /** node-a was the main of epoch 0; a takeover made node-b the owner of epoch 1 and marked node-a fenced. */
    private NodeConfig fencedOldMain(String rejoin) throws Exception {
        Epoch first = epochs.initialize("node-a");
        Epoch second = epochs.advance(first, "node-b");
        FenceReason reason = new FenceReason("node-a", "replaced by node-b (test takeover)", second.number(), Instant.now());
        new FencedNodes(observer, ZK).mark(second, "node-b", reason);
        NodeConfig config = TestNodeConfig.write(dir, "node-a", "rejoin", zk.getConnectString(), Duration.ofSeconds(2), "", "");
        FenceMarker.of(config.layout()).write(reason);
        if (!rejoin.isEmpty()) {
            Path file = dir.resolve("node-a.json");
            Files.writeString(file, Files.readString(file).replaceFirst("\\{", "{\"rejoin\": \"" + rejoin + "\", "));
            config = NodeConfig.load(file);
        }
        return config;
    }

    private Membership newMainRuns() throws Exception {
        return Membership.register(observer, ZK, new MemberInfo("node-b", Role.MAIN, "http://127.0.0.1:1", 1, Instant.now()), 10_000);
    }

    @Test
    void aFencedOldMainRejoinsAsACloneOnceTheNewMainRuns() throws Exception {
        NodeConfig config = fencedOldMain("");
        try (Membership b = newMainRuns(); NodeAgent agent = NodeAgent.start(config)) {
            assertEquals(Role.CLONE, agent.role());
            assertEquals(Role.CLONE, Membership.list(observer, ZK).get("node-a").role());
            assertFalse(FenceMarker.of(config.layout()).isFenced(), "the local marker is cleared");
            assertFalse(new FencedNodes(observer, ZK).isFenced("node-a"), "the fence in ZooKeeper is cleared");
        }
    }

    @Test
    void itStaysFencedWhileTheNewMainDoesNotRunYet() throws Exception {
        NodeConfig config = fencedOldMain("");
        try (NodeAgent agent = NodeAgent.start(config)) {
            Outcome end = agent.ended().get(1, TimeUnit.MINUTES);
            assertEquals(ExitStatus.REFUSED, end.status(), end.message());
            assertTrue(FenceMarker.of(config.layout()).isFenced());
            assertTrue(new FencedNodes(observer, ZK).isFenced("node-a"));
        }
    }

    @Test
    void withManualRejoinItWaitsForTheOperator() throws Exception {
        NodeConfig config = fencedOldMain("manual");
        try (Membership b = newMainRuns(); NodeAgent agent = NodeAgent.start(config)) {
            Outcome end = agent.ended().get(1, TimeUnit.MINUTES);
            assertEquals(ExitStatus.REFUSED, end.status(), end.message());
            assertTrue(FenceMarker.of(config.layout()).isFenced());
        }
    }

    @Test
    void aNodeFencedWhileItStillOwnsTheEpochStaysFenced() throws Exception {
        epochs.initialize("node-a");
        NodeConfig config = TestNodeConfig.write(dir, "node-a", "rejoin", zk.getConnectString(), Duration.ofSeconds(2), "", "");
        FenceMarker.of(config.layout()).write(new FenceReason("node-a", "cut from ZooKeeper (test)", 0, Instant.now()));
        try (NodeAgent agent = NodeAgent.start(config)) {
            Outcome end = agent.ended().get(1, TimeUnit.MINUTES);
            assertEquals(ExitStatus.REFUSED, end.status(), end.message());
            assertTrue(FenceMarker.of(config.layout()).isFenced());
        }
    }
}

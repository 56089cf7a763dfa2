package io.resilientkvm.engine.watchdog;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ZooKeeper proof of ownership against a real ZooKeeper, with a takeover by another session. */
class ZooKeeperOwnershipProofTest {
    @TempDir
    Path dir;

    @Test
    void provesOwnershipUntilAnotherNodeMovesTheEpoch() throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-test", "proof");
        try (TestingServer server = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                CuratorFramework main = ZkClients.connect(ZkSettings.of(server.getConnectString()));
                CuratorFramework clone = ZkClients.connect(ZkSettings.of(server.getConnectString()))) {
            Epoch mine = new EpochStore(main, layout).initialize("node-a");
            ZooKeeperOwnershipProof proof = new ZooKeeperOwnershipProof(main, layout, mine, Duration.ofSeconds(10));

            long before = LeaseClock.nanos();
            OptionalLong p = proof.prove();
            long after = LeaseClock.nanos();
            assertTrue(p.isPresent(), "the owner proves it");
            assertTrue(p.getAsLong() - before >= 0 && after - p.getAsLong() >= 0, "the proof time is taken before the proof");

            new EpochStore(clone, layout).advance(mine, "node-b");
            assertFalse(proof.prove().isPresent(), "no proof once another node owns the epoch");
        }
    }

    @Test
    void noProofWhileZooKeeperIsDown() throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-test", "proof");
        try (TestingServer server = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                CuratorFramework main = ZkClients.connect(ZkSettings.of(server.getConnectString()))) {
            Epoch mine = new EpochStore(main, layout).initialize("node-a");
            ZooKeeperOwnershipProof proof = new ZooKeeperOwnershipProof(main, layout, mine, Duration.ofMillis(1500));
            assertTrue(proof.prove().isPresent());
            server.stop();
            assertFalse(proof.prove().isPresent(), "ZooKeeper unreachable: not proven");
        }
    }
}

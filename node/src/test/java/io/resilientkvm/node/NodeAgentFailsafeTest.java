package io.resilientkvm.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.tls.PinnedTrust;
import io.resilientkvm.engine.tls.TestCertificates;
import io.resilientkvm.engine.tls.TestCertificates.NodeCert;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.node.peer.PeerChannelClient;
import io.resilientkvm.node.peer.PeerChannelSettings;
import io.resilientkvm.takeover.fencing.AckChannel;
import io.resilientkvm.takeover.fencing.AckChannel.AckAnswer;
import io.resilientkvm.takeover.fencing.AckChannel.AckRequest;
import io.resilientkvm.takeover.fencing.FailsafeAck;
import io.resilientkvm.takeover.membership.Role;
import io.resilientkvm.takeover.protocol.Confirmation;
import io.resilientkvm.takeover.protocol.StepListener;
import io.resilientkvm.takeover.protocol.Takeover;
import io.resilientkvm.takeover.protocol.TakeoverOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A clone's real agent in fail-safe mode (on by default: tls, peer-channel and pinned peers with
 * channel ports): node-a, played here over the real peer channel, asks it to acknowledge; it
 * does, records its promise, and a takeover on it is refused until the promise ends; once it has
 * seen a newer epoch it refuses to acknowledge node-a.
 */
class NodeAgentFailsafeTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ZkLayout LAYOUT = new ZkLayout("/rkvm-test", "fsagent");

    @TempDir
    Path dir;

    @Test
    void aCloneAgentAcknowledgesItsMainRefusesTakeoversMeanwhileAndRefusesOnceItKnowsANewerEpoch() throws Exception {
        NodeCert a = TestCertificates.node(Files.createDirectories(dir.resolve("secrets-a")), "node-a");
        NodeCert b = TestCertificates.node(Files.createDirectories(dir.resolve("secrets-b")), "node-b");
        int port = Leftovers.freePort();
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                CuratorFramework observer = ZkClients.connect(ZkSettings.of(zk.getConnectString()))) {
            EpochStore epochs = new EpochStore(observer, LAYOUT);
            Epoch zero = epochs.initialize("node-a");
            TestNodeConfig.write(dir, "node-b", "fsagent", zk.getConnectString(), Duration.ofSeconds(2), "", "");
            Path file = dir.resolve("node-b.json");
            ObjectNode json = (ObjectNode) JSON.readTree(file.toFile());
            json.setAll((ObjectNode) JSON.readTree("""
                    {"tls": {"keystore": "%s", "keystore-password-file": "%s"},
                     "peer-channel": {"port": %d},
                     "peers": {"node-a": {"address": "127.0.0.1", "certificate": "%s", "channel-port": 1}}}
                    """.formatted(b.keystore(), b.passwordFile(), port, a.certificate())));
            Files.writeString(file, JSON.writeValueAsString(json));
            NodeConfig config = NodeConfig.load(file);
            assertTrue(config.failsafe(), "on by default with the channel and pinned peers");
            Map<String, NodeConfig.Peer> peersOfA = Map.of("node-b", new NodeConfig.Peer("127.0.0.1",
                    Optional.of(b.certificate()), Optional.empty(), Optional.empty(), OptionalInt.of(port)));
            PeerChannelSettings asA = new PeerChannelSettings("node-a", "fsagent", "127.0.0.1", 1, a.identity(), peersOfA,
                    PinnedTrust.of(peersOfA), PeerChannelSettings.Limits.DEFAULTS.withTimeouts(Duration.ofSeconds(10),
                            Duration.ofSeconds(20)));
            try (NodeAgent agent = NodeAgent.start(config); PeerChannelClient fromA = PeerChannelClient.of(asA)) {
                await("node-b is a clone").atMost(1, TimeUnit.MINUTES).until(() -> agent.role() == Role.CLONE);
                AckChannel acks = FailsafeChannel.client(fromA);
                AckAnswer yes = acks.ask("node-b", new AckRequest("fsagent", "node-a", 0, 60_000), Duration.ofSeconds(20));
                assertTrue(yes.acknowledged(), yes.detail());
                FailsafeAck promise = FailsafeAck.read(FailsafeAck.file(config.layout())).orElseThrow();
                assertTrue(promise.main().equals("node-a") && promise.epoch() == 0, promise.toString());

                // bin/takeover on node-b, as the CLI runs it: refused even with --force while the promise holds.
                RefusedException refused = assertThrows(RefusedException.class, () -> new Takeover(observer, LAYOUT, "node-b",
                        TakeoverOptions.defaults().withForce(true).withFailsafeAckFile(FailsafeAck.file(config.layout())))
                        .run(Confirmation.YES, (plan, epoch) -> { }, StepListener.NONE));
                assertTrue(refused.getMessage().contains("acknowledged the main node-a of epoch 0")
                        && refused.getMessage().contains("no promotion until " + promise.until()), refused.getMessage());

                // A takeover elsewhere: node-b sees epoch 1 and no longer vouches for node-a.
                epochs.advance(zero, "node-c");
                await("node-b refuses node-a").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100)).until(() ->
                        !acks.ask("node-b", new AckRequest("fsagent", "node-a", 0, 2000), Duration.ofSeconds(20)).acknowledged());
                AckAnswer no = acks.ask("node-b", new AckRequest("fsagent", "node-a", 0, 2000), Duration.ofSeconds(20));
                assertTrue(no.detail().contains("node-b knows epoch 1 (owner node-c)"), no.detail());
                assertFalse(no.acknowledged());
            }
        }
    }
}

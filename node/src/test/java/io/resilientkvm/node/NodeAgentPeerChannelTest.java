package io.resilientkvm.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.tls.PinnedTrust;
import io.resilientkvm.engine.tls.TestCertificates;
import io.resilientkvm.engine.tls.TestCertificates.NodeCert;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.node.peer.PeerChannelClient;
import io.resilientkvm.node.peer.PeerChannelSettings;
import io.resilientkvm.node.peer.PeerResult;
import io.resilientkvm.node.peer.PeerView;
import io.resilientkvm.takeover.membership.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node agent with {@code peer-channel} set runs the channel for as long as it runs: node-b's
 * agent (a clone, on a real ZooKeeper) answers node-a's hello over mutual TLS, and once closed
 * leaves no listening socket and no thread of the channel. Without {@code tls} or pinned peers the
 * agent does not start: bad input (exit 2) naming what to set.
 */
class NodeAgentPeerChannelTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** node-b's configuration with {@code fields} (JSON members) added, loaded again. */
    private NodeConfig nodeB(String connect, String fields) throws Exception {
        TestNodeConfig.write(dir, "node-b", "peers", connect, Duration.ofSeconds(2), "", "");
        Path file = dir.resolve("node-b.json");
        ObjectNode config = (ObjectNode) JSON.readTree(file.toFile());
        config.setAll((ObjectNode) JSON.readTree("{" + fields + "}"));
        Files.writeString(file, JSON.writeValueAsString(config));
        return NodeConfig.load(file);
    }

    @Test
    void theAgentServesHelloOverTheChannelWhileItRunsAndLeavesNothingWhenClosed() throws Exception {
        NodeCert a = TestCertificates.node(Files.createDirectories(dir.resolve("secrets-a")), "node-a");
        NodeCert b = TestCertificates.node(Files.createDirectories(dir.resolve("secrets-b")), "node-b");
        int port = Leftovers.freePort();
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                CuratorFramework observer = ZkClients.connect(ZkSettings.of(zk.getConnectString()))) {
            new EpochStore(observer, new ZkLayout("/rkvm-test", "peers")).initialize("node-a");
            NodeConfig config = nodeB(zk.getConnectString(), """
                    "tls": {"keystore": "%s", "keystore-password-file": "%s"},
                    "peer-channel": {"port": %d},
                    "peers": {"node-a": {"address": "127.0.0.1", "certificate": "%s", "channel-port": 1}}
                    """.formatted(b.keystore(), b.passwordFile(), port, a.certificate()));
            Map<String, NodeConfig.Peer> peersOfA = Map.of("node-b", new NodeConfig.Peer("127.0.0.1",
                    Optional.of(b.certificate()), Optional.empty(), Optional.empty(), OptionalInt.of(port)));
            PeerChannelSettings asA = new PeerChannelSettings("node-a", "peers", "127.0.0.1", 1, a.identity(), peersOfA,
                    PinnedTrust.of(peersOfA), PeerChannelSettings.Limits.DEFAULTS.withTimeouts(Duration.ofSeconds(10),
                            Duration.ofSeconds(20)));
            try (NodeAgent agent = NodeAgent.start(config); PeerChannelClient fromA = PeerChannelClient.of(asA)) {
                await("node-b is a clone").atMost(1, TimeUnit.MINUTES).until(() -> agent.role() == Role.CLONE);
                await("node-b says so over the channel").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100))
                        .until(() -> fromA.hello("node-b").answer().map(v -> v.role() == Role.CLONE && v.epoch() == 0).orElse(false));
                PeerResult<PeerView> hello = fromA.hello("node-b");
                assertEquals(Optional.of(new PeerView("node-b", "peers", Role.CLONE, 0, List.of())), hello.answer(), hello.toString());
                assertFalse(Leftovers.threads("peer-channel-node-b").isEmpty(), "the channel's threads run with the agent");
            }
            assertFalse(Leftovers.accepts(port), "nothing listens on " + port + " once the agent is closed");
            assertTrue(Leftovers.bindable(port), port + " can be bound again");
            await("no thread of the channel").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(50))
                    .until(() -> Leftovers.threads("peer-channel-node-b").isEmpty());
        }
    }

    @Test
    void aPeerChannelWithoutTlsOrPinnedPeersIsBadInputBeforeAnythingStarts() throws Exception {
        // An address nobody listens on: the check comes before the ZooKeeper session.
        String nowhere = "127.0.0.1:" + Leftovers.freePort();
        BadInputException noTls = assertThrows(BadInputException.class, () -> NodeAgent.start(nodeB(nowhere,
                "\"peer-channel\": {\"port\": 8444}")));
        assertEquals(ExitStatus.BAD_INPUT, ExitStatus.of(noTls));
        assertTrue(noTls.getMessage().contains("peer-channel is set but tls is not") && noTls.getMessage().contains("tls.keystore")
                && noTls.getMessage().contains("peers is empty"), noTls.getMessage());

        NodeCert b = TestCertificates.node(Files.createDirectories(dir.resolve("secrets-b")), "node-b");
        BadInputException unpinned = assertThrows(BadInputException.class, () -> NodeAgent.start(nodeB(nowhere, """
                "tls": {"keystore": "%s", "keystore-password-file": "%s"},
                "peer-channel": {"bind": "198.18.0.2", "port": 8444},
                "peers": {"node-a": {"address": "198.18.0.1"}}
                """.formatted(b.keystore(), b.passwordFile()))));
        assertEquals(ExitStatus.BAD_INPUT, ExitStatus.of(unpinned));
        assertTrue(unpinned.getMessage().contains("peers.node-a has no certificate or fingerprint")
                && unpinned.getMessage().contains("peers.node-a.channel-port is not set"), unpinned.getMessage());
    }
}

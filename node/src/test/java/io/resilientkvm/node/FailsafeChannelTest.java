package io.resilientkvm.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.testing.TestTiming;
import io.resilientkvm.engine.tls.PinnedTrust;
import io.resilientkvm.engine.tls.TestCertificates;
import io.resilientkvm.engine.tls.TestCertificates.NodeCert;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.node.peer.PeerChannelClient;
import io.resilientkvm.node.peer.PeerChannelServer;
import io.resilientkvm.node.peer.PeerChannelSettings;
import io.resilientkvm.node.peer.PeerResult;
import io.resilientkvm.node.peer.PeerView;
import io.resilientkvm.takeover.fencing.FailsafeAck;
import io.resilientkvm.takeover.fencing.FailsafeAcknowledger;
import io.resilientkvm.takeover.fencing.Failsafe;
import io.resilientkvm.takeover.fencing.FenceMarker;
import io.resilientkvm.takeover.fencing.FenceReason;
import io.resilientkvm.takeover.fencing.FencingWatcher;
import io.resilientkvm.takeover.membership.Role;
import io.resilientkvm.takeover.protocol.Finding;
import io.resilientkvm.takeover.protocol.Takeover;
import io.resilientkvm.takeover.protocol.TakeoverOptions;
import io.resilientkvm.takeover.protocol.TakeoverPlan;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fail-safe mode on its real path: a main's fencing watcher on a real ZooKeeper that is stopped
 * and restarted, asking two clones over the real peer channel (mutual TLS on loopback, keytool
 * identities), each answering with the real acknowledger and its durable promise.
 */
class FailsafeChannelTest {
    private static final String INSTANCE = "fs";
    private static final Duration BOUND = TestTiming.scaled(Duration.ofSeconds(3));
    private static final Duration SESSION = TestTiming.scaled(Duration.ofSeconds(6));
    private static final Duration DEADLINE = TestTiming.scaled(Duration.ofSeconds(30));

    @TempDir
    Path dir;

    private TestingServer zk;
    private CuratorFramework client;
    private PeerChannelServer b;
    private PeerChannelServer c;
    private PeerChannelClient calls;
    private final ZkLayout layout = new ZkLayout("/rkvm", INSTANCE);
    private final List<FenceReason> fences = new CopyOnWriteArrayList<>();
    private final AtomicInteger resumed = new AtomicInteger();

    private static NodeConfig.Peer peer(NodeCert cert, int port) {
        return new NodeConfig.Peer("127.0.0.1", Optional.of(cert.certificate()), Optional.empty(), Optional.empty(),
                OptionalInt.of(port));
    }

    private static PeerChannelSettings settings(NodeCert self, Map<String, NodeConfig.Peer> peers) throws Exception {
        return new PeerChannelSettings(self.node(), INSTANCE, "127.0.0.1", 0, self.identity(), peers, PinnedTrust.of(peers),
                FailsafeChannel.limits(PeerChannelSettings.Limits.DEFAULTS, BOUND));
    }

    private Path promise(String node) {
        return dir.resolve(node + "/etc/failsafe-ack.json");
    }

    /** A clone's channel with its acknowledger (a clone of epoch 0 owned by node-a). */
    private PeerChannelServer clone(NodeCert self, NodeCert main) throws Exception {
        PeerChannelServer server = PeerChannelServer.start(settings(self, Map.of("node-a", peer(main, 1))),
                () -> new PeerView(self.node(), INSTANCE, Role.CLONE, 0, List.of()));
        FailsafeChannel.serve(server, new FailsafeAcknowledger(self.node(), INSTANCE, BOUND, promise(self.node()),
                () -> new FailsafeAcknowledger.View(true, 0, "node-a"), Clock.systemUTC()));
        return server;
    }

    @BeforeEach
    void start() throws Exception {
        zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
        client = ZkClients.connect(ZkSettings.of(zk.getConnectString()).withSessionTimeout(SESSION).withTrackEnsemble(false));
        NodeCert a = TestCertificates.node(dir, "node-a");
        NodeCert nb = TestCertificates.node(dir, "node-b");
        NodeCert nc = TestCertificates.node(dir, "node-c");
        b = clone(nb, a);
        c = clone(nc, a);
        calls = PeerChannelClient.of(settings(a, Map.of("node-b", peer(nb, b.port()), "node-c", peer(nc, c.port()))));
    }

    @AfterEach
    void stop() throws Exception {
        calls.close();
        b.close();
        c.close();
        client.close();
        zk.close();
    }

    private FencingWatcher watch(Epoch mine) {
        // The watcher warms the channel when it starts; the test waits for that before it cuts ZooKeeper.
        await().atMost(DEADLINE).until(() -> calls.hello("node-b") instanceof PeerResult.Answer
                && calls.hello("node-c") instanceof PeerResult.Answer);
        return FencingWatcher.start(client, layout, "node-a", mine, BOUND, SESSION, fences::add,
                new FenceMarker(dir.resolve("node-a/etc/fenced.json")), Optional.of(Failsafe.of(INSTANCE,
                        Set.of("node-b", "node-c"), FailsafeChannel.client(calls), BOUND, resumed::incrementAndGet)));
    }

    @Test
    void zooKeeperDownPastTheSessionWithBothClonesAcknowledgingFencesNothing() throws Exception {
        Epoch mine = new EpochStore(client, layout).initialize("node-a");
        List<ConnectionState> states = new CopyOnWriteArrayList<>();
        client.getConnectionStateListenable().addListener((cl, s) -> states.add(s));
        try (FencingWatcher w = watch(mine)) {
            zk.stop();
            await().atMost(DEADLINE).until(() -> states.contains(ConnectionState.LOST));
            assertFalse(w.isFenced(), () -> "fenced: " + fences);
            assertTrue(w.failsafeHolds());
            zk.restart();
            await().atMost(DEADLINE).until(() -> resumed.get() == 1);
            assertFalse(w.isFenced(), () -> "fenced: " + fences);
        }
        assertTrue(fences.isEmpty(), () -> "fenced: " + fences);
        assertTrue(FailsafeAck.read(promise("node-b")).isPresent() && FailsafeAck.read(promise("node-c")).isPresent());
    }

    @Test
    void aCloneCutOffFencesTheMainWhileItsPromiseStillRefusesATakeover() throws Exception {
        Epoch mine = new EpochStore(client, layout).initialize("node-a");
        try (FencingWatcher w = watch(mine)) {
            zk.stop();
            await().atMost(DEADLINE).until(w::failsafeHolds); // a complete round over the channel
            c.close(); // node-c's host cut off
            await().atMost(DEADLINE).until(() -> !fences.isEmpty());
            FenceReason reason = fences.get(0);
            assertTrue(reason.why().contains("without every clone's acknowledgement") && reason.why().contains("node-c: unreachable"),
                    reason.why());
            // node-c's last promise outlasts the main's fence: no takeover on it could start a VM beside the old one.
            FailsafeAck promised = FailsafeAck.read(promise("node-c")).orElseThrow();
            assertTrue(!promised.until().isBefore(reason.at()), "node-c promised until " + promised.until()
                    + " but the main fenced at " + reason.at());
            zk.restart();
            await().atMost(DEADLINE).until(() -> client.getZookeeperClient().isConnected());
            TakeoverPlan plan = new Takeover(client, layout, "node-c", new TakeoverOptions(true, Duration.ofSeconds(10),
                    Clock.fixed(reason.at(), ZoneOffset.UTC)).withFailsafeAckFile(promise("node-c"))).preview();
            assertTrue(plan.blocking().stream().anyMatch(f -> f.check() == Finding.Check.ACKNOWLEDGED_MAIN), plan::toString);
            RefusedException refused = org.junit.jupiter.api.Assertions.assertThrows(RefusedException.class, plan::requireGo);
            assertTrue(refused.getMessage().contains("acknowledged the main node-a of epoch 0"), refused.getMessage());
        }
    }
}

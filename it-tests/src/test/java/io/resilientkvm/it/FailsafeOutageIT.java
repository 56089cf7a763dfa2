package io.resilientkvm.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.tls.PinnedTrust;
import io.resilientkvm.engine.tls.TestCertificates;
import io.resilientkvm.engine.tls.TestCertificates.NodeCert;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.node.FailsafeChannel;
import io.resilientkvm.node.peer.PeerChannelServer;
import io.resilientkvm.node.peer.PeerChannelSettings;
import io.resilientkvm.node.peer.PeerView;
import io.resilientkvm.takeover.fencing.FailsafeAcknowledger;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
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
 * Issue 14's first must-show on one machine: a main node agent (a JVM of its own, a real VM,
 * backups every 5 s) in fail-safe mode loses its ZooKeeper (the server stopped) for longer than
 * its session; both clones (their peer channels with the real acknowledger, in this JVM)
 * acknowledge it over mutual TLS. Its VM never stops, it keeps taking backups, nothing is fenced,
 * and once ZooKeeper is back every backup is published. Written to move to the namespace bed.
 */
class FailsafeOutageIT {
    private static final String INSTANCE = "fsout";
    private static final ZkLayout LAYOUT = new ZkLayout("/rkvm-it", INSTANCE);

    @TempDir
    Path dir;

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static NodeConfig.Peer peer(NodeCert cert, int port) {
        return new NodeConfig.Peer("127.0.0.1", Optional.of(cert.certificate()), Optional.empty(), Optional.empty(),
                OptionalInt.of(port));
    }

    /** A clone's peer channel answering acknowledgements as a clone of epoch 0 owned by node-a. */
    private PeerChannelServer clone(NodeCert self, NodeCert main, int mainPort) throws Exception {
        Map<String, NodeConfig.Peer> peers = Map.of("node-a", peer(main, mainPort));
        PeerChannelServer server = PeerChannelServer.start(new PeerChannelSettings(self.node(), INSTANCE, "127.0.0.1", 0,
                self.identity(), peers, PinnedTrust.of(peers), PeerChannelSettings.Limits.DEFAULTS),
                () -> new PeerView(self.node(), INSTANCE, Role.CLONE, 0, List.of()));
        FailsafeChannel.serve(server, new FailsafeAcknowledger(self.node(), INSTANCE, Duration.ofSeconds(2),
                dir.resolve(self.node() + "/etc/failsafe-ack.json"), () -> new FailsafeAcknowledger.View(true, 0, "node-a"),
                Clock.systemUTC()));
        return server;
    }

    private static int localBackups(InstanceLayout instance) throws Exception {
        BackupRepository repo = new BackupRepository(instance.backupRepository());
        int n = 0;
        for (String device : repo.devices()) {
            for (Chain c : repo.chains(device)) {
                n += c.backups().size();
            }
        }
        return n;
    }

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(FailsafeOutageIT.class);

    @Test
    void zooKeeperDownLongerThanTheSessionDuringBackupsStopsNothingAndLosesNoBackup() throws Exception {
        outage(true);
    }

    @Test
    void aShortZooKeeperOutageDuringBackupsStopsNothingAndLosesNoBackup() throws Exception {
        outage(false);
    }

    /** {@code pastSession}: until the main's session is lost, and two backups more; else at least 5 s and one backup. */
    private void outage(boolean pastSession) throws Exception {
        NodeCert a = TestCertificates.node(Files.createDirectories(dir.resolve("secrets")), "node-a");
        NodeCert b = TestCertificates.node(dir.resolve("secrets"), "node-b");
        NodeCert c = TestCertificates.node(dir.resolve("secrets"), "node-c");
        int mainChannel = freePort();
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                PeerChannelServer cb = clone(b, a, mainChannel);
                PeerChannelServer cc = clone(c, a, mainChannel)) {
            Path params = Files.writeString(dir.resolve("params.json"), """
                    {"-sla-0-computer_guid": "node-a", "-sla-1-computer_guid": "node-b", "-sla-2-computer_guid": "node-c",
                     "ram-size": 256, "cpu-count": 1, "disk-size": 1, "use-nat": false, "use-tap": false,
                     "resiliency-backup-periodicity": "@every 5s"}
                    """);
            Path token = io.resilientkvm.engine.secret.TestSecrets.write(dir.resolve("token"), "0123456789abcdef0123456789abcdef");
            Path dataDir = dir.resolve("node-a");
            InstanceLayout instance = new InstanceLayout(dataDir);
            ThreeAgents.blankMainDisk(instance);
            Path config = Files.writeString(dir.resolve("node-a.json"), """
                    {"node": "node-a", "instance": "%s", "data-dir": "%s", "parameters": "%s",
                     "software-type": "kvm-resilient", "vnc": {"listen": "none"},
                     "tls": {"keystore": "%s", "keystore-password-file": "%s"},
                     "peer-channel": {"port": %d},
                     "peers": {"node-b": {"address": "127.0.0.1", "certificate": "%s", "channel-port": %d},
                               "node-c": {"address": "127.0.0.1", "certificate": "%s", "channel-port": %d}},
                     "zookeeper": {"connect": "%s", "base-path": "/rkvm-it", "session-timeout-ms": 8000,
                                   "suspend-bound-ms": 2000},
                     "backup-server": {"token-file": "%s"}}
                    """.formatted(INSTANCE, dataDir, params, a.keystore(), a.passwordFile(), mainChannel, b.certificate(),
                    cb.port(), c.certificate(), cc.port(), zk.getConnectString(), token));
            Path log = dir.resolve("node-a.log");
            Process agent = ThreeAgents.startAgent(dir, "node-a", config);
            try {
                ProcessHandle qemu;
                int before;
                try (CuratorFramework observer = ZkClients.connect(ZkSettings.of(zk.getConnectString()))) {
                    await("node-a runs as main").atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100))
                            .until(() -> role(observer, "node-a").filter(r -> r == Role.MAIN).isPresent());
                    qemu = ProcessHandle.of(Long.parseLong(Files.readString(instance.pidFile()).strip())).orElseThrow();
                    await("a first backup published").atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(200))
                            .until(() -> !new ManifestCatalog(observer, LAYOUT).list().isEmpty());
                    before = localBackups(instance);
                }
                long down = System.nanoTime();
                zk.stop();
                if (pastSession) {
                    await("the main's session is lost, and it goes on").atMost(2, TimeUnit.MINUTES)
                            .pollInterval(Duration.ofMillis(200)).until(() -> Files.readString(log)
                                    .contains("ZooKeeper session lost; fail-safe: running on"));
                }
                int during = pastSession ? 2 : 1;
                await("backups during the outage").atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(200))
                        .until(() -> localBackups(instance) >= before + during
                                && System.nanoTime() - down >= TimeUnit.SECONDS.toNanos(5)); // down 5 s at least
                assertTrue(qemu.isAlive(), "the VM runs through the outage; agent log:\n" + Files.readString(log));
                assertTrue(agent.isAlive(), "the agent runs through the outage");
                zk.restart();
                long outageMs = (System.nanoTime() - down) / 1_000_000;
                int taken = localBackups(instance) - before;
                try (CuratorFramework observer = ZkClients.connect(ZkSettings.of(zk.getConnectString()))) {
                    await("node-a announces MAIN again").atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(200))
                            .until(() -> role(observer, "node-a").filter(r -> r == Role.MAIN).isPresent());
                    // Every backup in the main's repository reaches the catalog (none lost), in order.
                    await("every backup published").atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(200))
                            .until(() -> {
                                int local = localBackups(instance);
                                List<BackupManifest> published = new ManifestCatalog(observer, LAYOUT).list();
                                return published.size() >= local && local >= before + during;
                            });
                    LOG.info("Fail-safe outage: ZooKeeper down {} ms (session 8000 ms, bound 2000 ms), {} backup(s) taken"
                            + " meanwhile, {} published in all after the return, {} in the main's repository", outageMs, taken,
                            new ManifestCatalog(observer, LAYOUT).list().size(), localBackups(instance));
                }
                assertTrue(qemu.isAlive(), "the VM still runs; agent log:\n" + Files.readString(log));
                assertTrue(agent.isAlive());
                assertFalse(Files.exists(instance.etc().resolve("fenced.json")), "nothing fenced");
                // Alive is not enough: the VM watchdog took the clones' acknowledgements as proof and never paused it.
                String keeper = Files.readString(instance.vmKeeperLog());
                assertTrue(keeper.contains("watching QEMU pid " + qemu.pid()), keeper);
                assertFalse(keeper.contains("PAUSED"), "the VM keeper never paused the VM:\n" + keeper);
            } finally {
                agent.destroy();
                if (!agent.waitFor(60, TimeUnit.SECONDS)) {
                    agent.destroyForcibly();
                }
                ProcessHandle.allProcesses().filter(p -> p.info().commandLine().map(cl -> cl.contains(dataDir.toString()))
                        .orElse(false)).forEach(ProcessHandle::destroyForcibly);
            }
            assertEquals(0, Files.readString(log).lines().filter(l -> l.contains("FENCING")).count(), "nothing fenced");
        }
    }

    private static Optional<Role> role(CuratorFramework client, String node) throws Exception {
        MemberInfo m = Membership.list(client, LAYOUT).get(node);
        return Optional.ofNullable(m).map(MemberInfo::role);
    }
}

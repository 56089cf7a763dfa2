package io.resilientkvm.cli.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.secret.InstanceSecrets;
import io.resilientkvm.engine.secret.NodeAddress;
import io.resilientkvm.engine.secret.SecretFiles;
import io.resilientkvm.engine.secret.SecretsRequest;
import io.resilientkvm.engine.secret.WrittenStores;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zookeeper/ folder of a node, used as docs/deployment.md says: ZooKeeper's own server
 * ({@code QuorumPeerMain}, a separate JVM) runs with a zoo.cfg made of a few base lines and the
 * written {@code zoo-tls.cfg}; a node connects over TLS with its written keystore and truststore
 * (ZooKeeper's Netty client, hostname checked), the digest identities and the super user work, and
 * a client certificate of another CA is refused.
 */
class ZooKeeperServerTlsTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private Process server;
    private Path log;
    private Path out;
    private int port;

    @BeforeEach
    void startServer() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        Path zkDir = dir.resolve("etc-zookeeper-tls");
        out = dir.resolve("secrets");
        InstanceSecrets.generate(SecretsRequest.of("kvm1", List.of(NodeAddress.parse("node-a=127.0.0.1"),
                NodeAddress.parse("node-b=198.18.0.2")), 8444, port, zkDir.toString(), ""), Clock.system(ZoneOffset.UTC))
                .writeTo(out, "--out");
        // As an operator would: the node's zookeeper/ folder to --zookeeper-dir, its lines into zoo.cfg.
        Files.move(out.resolve("node-a/zookeeper"), zkDir);
        Path data = Files.createDirectory(dir.resolve("zk-data"));
        Path cfg = Files.writeString(dir.resolve("zoo.cfg"), "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=" + data
                + "\nadmin.enableServer=false\n" + Files.readString(zkDir.resolve("zoo-tls.cfg")));
        log = dir.resolve("zookeeper.log");
        server = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx128m", "-cp",
                System.getProperty("java.class.path"), "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    @AfterEach
    void stopServer() throws Exception {
        if (server != null) {
            server.destroy();
            if (!server.waitFor(20, TimeUnit.SECONDS)) {
                server.destroyForcibly().waitFor(20, TimeUnit.SECONDS);
            }
        }
    }

    /** Until the secure port accepts TCP connections (or the server died, which the assertion then shows). */
    private void awaitListening() {
        await().atMost(WAIT).until(() -> !server.isAlive() || accepts());
        assertTrue(server.isAlive(), serverLog());
    }

    private boolean accepts() {
        try (java.net.Socket s = new java.net.Socket(InetAddress.getLoopbackAddress(), port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private String serverLog() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** A TLS client configured from a node's folder, as zookeeper.tls and tls name them in its configuration. */
    private ZooKeeper connect(Path nodeFolder) throws Exception {
        ZKClientConfig c = new ZKClientConfig();
        c.setProperty(ZKClientConfig.SECURE_CLIENT, "true");
        c.setProperty(ZKClientConfig.ZOOKEEPER_CLIENT_CNXN_SOCKET, "org.apache.zookeeper.ClientCnxnSocketNetty");
        // No SASL: its principal lookup reverse-resolves the server's IP (127.0.0.1 to localhost), and the TLS
        // hostname check then compares that name, not the IP in the certificate.
        c.setProperty(ZKClientConfig.ENABLE_CLIENT_SASL_KEY, "false");
        c.setProperty("zookeeper.ssl.keyStore.location", nodeFolder.resolve("node.p12").toString());
        c.setProperty("zookeeper.ssl.keyStore.passwordPath", nodeFolder.resolve("node.p12.password").toString());
        c.setProperty("zookeeper.ssl.keyStore.type", "PKCS12");
        c.setProperty("zookeeper.ssl.trustStore.location", nodeFolder.resolve("ca.p12").toString());
        c.setProperty("zookeeper.ssl.trustStore.passwordPath", nodeFolder.resolve("ca.p12.password").toString());
        c.setProperty("zookeeper.ssl.trustStore.type", "PKCS12");
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeperAdmin("127.0.0.1:" + port, 10_000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        }, c);
        if (!connected.await(WAIT.toSeconds(), TimeUnit.SECONDS)) {
            zk.close();
            throw new AssertionError("no TLS session with the ZooKeeper server within " + WAIT + "; its log:\n" + serverLog());
        }
        return zk;
    }

    private String secret(String relative) throws Exception {
        return SecretFiles.readSecret(out.resolve(relative), relative);
    }

    @Test
    void aNodeConnectsOverTlsItsDigestIdentityOwnsItsZnodesAndTheSuperUserCanRepairThem() throws Exception {
        awaitListening();
        String instanceUser = "instance-kvm1:" + secret("node-a/zk-instance.secret");
        // A mutable list: ZooKeeper's validateACL asks it contains(null), which List.of refuses.
        List<ACL> instanceOnly = new java.util.ArrayList<>(List.of(new ACL(ZooDefs.Perms.ALL,
                new Id("digest", DigestAuthenticationProvider.generateDigest(instanceUser)))));
        try (ZooKeeper node = connect(out.resolve("node-b"))) {
            node.addAuthInfo("digest", instanceUser.getBytes(StandardCharsets.UTF_8));
            node.create("/epoch", "1".getBytes(StandardCharsets.UTF_8), instanceOnly, CreateMode.PERSISTENT);
            assertArrayEquals("1".getBytes(StandardCharsets.UTF_8), node.getData("/epoch", false, null));
        }
        try (ZooKeeper stranger = connect(out.resolve("node-a"))) {
            // A client with a valid certificate but without the instance's password: NoAuth.
            assertThrows(KeeperException.NoAuthException.class, () -> stranger.getData("/epoch", false, null));
            assertThrows(KeeperException.NoAuthException.class, () -> stranger.setData("/epoch", new byte[0], -1));
        }
        try (ZooKeeper operator = connect(out.resolve("node-a"))) {
            operator.addAuthInfo("digest", ("super:" + secret("ca/zk-super.secret")).getBytes(StandardCharsets.UTF_8));
            operator.setData("/epoch", "2".getBytes(StandardCharsets.UTF_8), -1);
            assertEquals(instanceOnly.get(0).getId().getId(), operator.getACL("/epoch", null).get(0).getId().getId());
        }
    }

    @Test
    void aClientCertificateOfAnotherCaIsRefusedByTheServer() throws Exception {
        awaitListening();
        Path other = dir.resolve("other");
        InstanceSecrets.generate(SecretsRequest.of("kvm2", List.of(NodeAddress.parse("node-a=127.0.0.1"),
                NodeAddress.parse("node-b=198.18.0.2")), 8444, port, "/etc/zookeeper/tls", ""), Clock.system(ZoneOffset.UTC))
                .writeTo(other, "--out");
        // Its own identity, but trusting this instance's CA: only the server's check can refuse it.
        SSLContext ctx = WrittenStores.context(other.resolve("node-b/node.p12"), out.resolve("node-b/ca.p12"));
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket("127.0.0.1", port)) {
            s.setSoTimeout((int) WAIT.toMillis());
            assertThrows(IOException.class, () -> {
                s.startHandshake();
                // TLS 1.3: the refusal arrives as an alert on the first read.
                if (s.getInputStream().read() < 0) {
                    throw new IOException("closed by the server");
                }
            });
        }
        try (ZooKeeper node = connect(out.resolve("node-b"))) {
            assertEquals(ZooKeeper.States.CONNECTED, node.getState(), "the server still serves the instance's nodes");
        }
    }
}

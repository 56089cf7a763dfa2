package io.resilientkvm.engine.zk;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import javax.net.ssl.SSLSocket;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.apache.zookeeper.common.ClientX509Util;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 3-server ensemble configured with the TLS lines of docs/deployment.md ("ZooKeeper TLS"): a
 * secure client port per server and TLS between the servers ({@code sslQuorum}). The servers
 * run in this JVM and ZooKeeper turns its {@code ssl.*} settings into JVM-wide system
 * properties, so the three share one keystore here (on three hosts each has its own); the
 * properties are restored afterwards.
 */
class ZkEnsembleTlsTest {
    @TempDir
    static Path dir;
    static Properties savedProperties;
    static ZkTlsCertificates certs;
    static TestingCluster cluster;
    static List<Integer> securePorts = new ArrayList<>();

    @BeforeAll
    static void startEnsemble() throws Exception {
        savedProperties = (Properties) System.getProperties().clone();
        certs = ZkTlsCertificates.create(dir);
        List<InstanceSpec> specs = new ArrayList<>();
        for (int id = 1; id <= 3; id++) {
            int securePort = freePort();
            securePorts.add(securePort);
            Path data = Files.createDirectories(dir.resolve("zk" + id));
            specs.add(new InstanceSpec(data.toFile(), -1, -1, -1, true, id, -1, -1,
                    serverTls(securePort), "127.0.0.1"));
        }
        cluster = new TestingCluster(specs);
        cluster.start();
    }

    /** The zoo.cfg lines of docs/deployment.md, for this machine's stores. */
    private static Map<String, Object> serverTls(int securePort) {
        Map<String, Object> p = new HashMap<>();
        p.put("secureClientPort", Integer.toString(securePort));
        p.put("secureClientPortAddress", "127.0.0.1");
        p.put("serverCnxnFactory", "org.apache.zookeeper.server.NettyServerCnxnFactory");
        p.put("ssl.clientAuth", "need");
        p.put("sslQuorum", "true");
        // The same stores for the client port (ssl.*) and between the servers (ssl.quorum.*).
        for (String prefix : List.of("ssl.", "ssl.quorum.")) {
            p.put(prefix + "keyStore.location", certs.serverKeystore().toString());
            p.put(prefix + "keyStore.passwordPath", certs.passwordFile().toString());
            p.put(prefix + "keyStore.type", "PKCS12");
            p.put(prefix + "trustStore.location", certs.truststore().toString());
            p.put(prefix + "trustStore.passwordPath", certs.passwordFile().toString());
            p.put(prefix + "trustStore.type", "PKCS12");
        }
        return p;
    }

    @AfterAll
    static void stop() throws IOException {
        try {
            if (cluster != null) {
                cluster.close();
            }
        } finally {
            System.setProperties(savedProperties);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static ZkSettings secure(int server) {
        return ZkSettings.of("127.0.0.1:" + securePorts.get(server)).withTrackEnsemble(false).withTls(certs.stores());
    }

    @Test
    void whatOneServersTlsClientWritesAnotherServersTlsClientReads() throws Exception {
        ZkAccess access = new ZkAccess(new ZkLayout("/tls-ensemble", "vm1"), "node-a", "instance-pw", "node-pw");
        String path = access.layout().instancePath() + "/probe";
        try (CuratorFramework first = ZkClients.connect(secure(0).withAccess(access));
             CuratorFramework third = ZkClients.connect(secure(2).withAccess(access))) {
            first.create().creatingParentsIfNeeded().forPath(path, "replicated".getBytes(StandardCharsets.UTF_8));
            third.sync().forPath(path);
            await().atMost(Duration.ofSeconds(10)).until(() -> third.checkExists().forPath(path) != null);
            assertArrayEquals("replicated".getBytes(StandardCharsets.UTF_8), third.getData().forPath(path));
            assertEquals(access.instanceAcl(), third.getACL().forPath(path));
        }
    }

    @Test
    void theServersTalkTlsToEachOtherOnTheirElectionPorts() throws Exception {
        InstanceSpec spec = cluster.getInstances().iterator().next();
        try (ClientX509Util x509 = new ClientX509Util();
             SSLSocket socket = x509.createSSLContextAndOptions(certs.stores().clientConfig()).createSSLSocket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", spec.getElectionPort()), 5000);
            socket.setSoTimeout(5000);
            socket.startHandshake();
            assertTrue(socket.getSession().getProtocol().startsWith("TLS"), socket.getSession().getProtocol());
            assertEquals("CN=zookeeper", socket.getSession().getPeerPrincipal().getName());
        }
    }
}

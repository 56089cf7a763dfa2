package io.resilientkvm.node.zk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.zk.ZkAccess;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.engine.zk.ZkTlsCertificates;
import io.resilientkvm.engine.zk.ZkTlsStores;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.Properties;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.ClientCnxnSocketNetty;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.client.ZKClientConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS to ZooKeeper against a real server: the embedded one with a secure client port (Netty,
 * client certificates required) beside its plain port, stores made by keytool.
 */
class EmbeddedZooKeeperTlsTest {
    private static final Duration SHORT = Duration.ofSeconds(3);

    @TempDir
    static Path dir;
    static Properties savedProperties;
    static ZkTlsCertificates certs;
    static EmbeddedZooKeeper zk;

    @BeforeAll
    static void startSecureServer() throws Exception {
        // ZooKeeper's server turns its TLS settings into system properties: restored at the end.
        savedProperties = (Properties) System.getProperties().clone();
        certs = ZkTlsCertificates.create(dir);
        zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0, Optional.of(new EmbeddedZooKeeper.SecurePort(0,
                certs.serverKeystore(), certs.passwordFile(), certs.truststore(), certs.passwordFile())));
    }

    @AfterAll
    static void stop() {
        try {
            if (zk != null) {
                zk.close();
            }
        } finally {
            System.setProperties(savedProperties);
        }
    }

    private static String secure() {
        return zk.secureConnectString().orElseThrow();
    }

    @Test
    void aTlsClientWithTheRightTruststoreWritesAndReadsZnodesUnderTheInstanceAcls() throws Exception {
        ZkLayout layout = new ZkLayout("/tls-test", "vm1");
        ZkAccess access = new ZkAccess(layout, "node-a", "instance-password", "node-password");
        ZkSettings settings = ZkSettings.of(secure()).withAccess(access).withTls(certs.stores());
        try (CuratorFramework client = ZkClients.connect(settings)) {
            ZKClientConfig used = client.getZookeeperClient().getZooKeeper().getClientConfig();
            assertEquals(ClientCnxnSocketNetty.class.getName(), used.getProperty(ZKClientConfig.ZOOKEEPER_CLIENT_CNXN_SOCKET));
            assertEquals("true", used.getProperty(ZKClientConfig.SECURE_CLIENT));
            String path = layout.instancePath() + "/probe";
            client.create().creatingParentsIfNeeded().forPath(path, "over tls".getBytes(StandardCharsets.UTF_8));
            assertArrayEquals("over tls".getBytes(StandardCharsets.UTF_8), client.getData().forPath(path));
            assertEquals(access.instanceAcl(), client.getACL().forPath(path));
        }
        // The same znode through the plain port, without the instance's identity: the ACL holds.
        try (CuratorFramework stranger = ZkClients.connect(ZkSettings.of(zk.connectString()))) {
            assertThrows(KeeperException.NoAuthException.class,
                    () -> stranger.setData().forPath(layout.instancePath() + "/probe", new byte[] {1}));
        }
    }

    @Test
    void aTruststoreThatDoesNotTrustTheServerIsRefusedNamingIt() {
        ZkTlsStores wrong = new ZkTlsStores(certs.otherTruststore(), certs.passwordFile(), Optional.of(certs.clientKeystore()),
                Optional.of(certs.passwordFile()));
        OperationFailedException e = assertThrows(OperationFailedException.class,
                () -> ZkClients.connect(ZkSettings.of(secure()).withConnectTimeout(SHORT).withTls(wrong)));
        assertTrue(e.getMessage().contains("is not trusted by zookeeper.tls.truststore " + certs.otherTruststore()), e.getMessage());
    }

    @Test
    void aServerCertificateThatDoesNotNameTheAddressInTheConnectStringIsRefused() {
        // The server's certificate names ip:127.0.0.1 only; localhost is the same socket by another name.
        String byName = "localhost:" + secure().substring(secure().indexOf(':') + 1);
        OperationFailedException e = assertThrows(OperationFailedException.class,
                () -> ZkClients.connect(ZkSettings.of(byName).withConnectTimeout(SHORT).withTls(certs.stores())));
        assertTrue(e.getMessage().contains("is refused") && e.getMessage().contains("must name the address in zookeeper.connect"),
                e.getMessage());
    }

    @Test
    void aPlainClientOnTheSecurePortIsToldToSetZookeeperTls() {
        OperationFailedException e = assertThrows(OperationFailedException.class,
                () -> ZkClients.connect(ZkSettings.of(secure()).withConnectTimeout(SHORT)));
        assertTrue(e.getMessage().contains("is a TLS port") && e.getMessage().contains("set zookeeper.tls"), e.getMessage());
    }

    @Test
    void aTlsClientOnThePlainPortIsToldToUseTheSecurePort() {
        OperationFailedException e = assertThrows(OperationFailedException.class,
                () -> ZkClients.connect(ZkSettings.of(zk.connectString()).withConnectTimeout(SHORT).withTls(certs.stores())));
        assertTrue(e.getMessage().contains("does not speak TLS") && e.getMessage().contains("secureClientPort"), e.getMessage());
    }

    @Test
    void aTlsClientWithoutAClientCertificateIsRefusedByTheServer() {
        ZkTlsStores noKey = new ZkTlsStores(certs.truststore(), certs.passwordFile(), Optional.empty(), Optional.empty());
        OperationFailedException e = assertThrows(OperationFailedException.class,
                () -> ZkClients.connect(ZkSettings.of(secure()).withConnectTimeout(SHORT).withTls(noKey)));
        assertTrue(e.getMessage().contains("refused this node's client certificate"), e.getMessage());
    }
}

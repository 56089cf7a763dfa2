package io.resilientkvm.engine.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.secret.TestSecrets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import org.apache.zookeeper.ClientCnxnSocketNetty;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.common.ClientX509Util;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client configuration built from {@code zookeeper.tls}'s stores, and the refusal of unusable ones. */
class ZkTlsStoresTest {
    @TempDir
    static Path dir;
    static ZkTlsCertificates certs;

    @BeforeAll
    static void makeStores() throws Exception {
        certs = ZkTlsCertificates.create(dir);
    }

    @Test
    void theClientConfigSetsTheNettySocketTlsAndBothStoresWithTheirPasswords() throws Exception {
        String previous = System.setProperty("zookeeper.ssl.keyStore.passwordPath", "/nonexistent/leaked-from-a-server");
        try {
            ZKClientConfig c = certs.stores().clientConfig();
            assertEquals(ClientCnxnSocketNetty.class.getName(), c.getProperty(ZKClientConfig.ZOOKEEPER_CLIENT_CNXN_SOCKET));
            assertEquals("true", c.getProperty(ZKClientConfig.SECURE_CLIENT));
            try (ClientX509Util x = new ClientX509Util()) {
                assertEquals(certs.truststore().toString(), c.getProperty(x.getSslTruststoreLocationProperty()));
                assertEquals(certs.clientKeystore().toString(), c.getProperty(x.getSslKeystoreLocationProperty()));
                assertEquals(Files.readString(certs.passwordFile()).strip(), c.getProperty(x.getSslKeystorePasswdProperty()));
                // A server's system property in the same JVM does not override this client's password.
                assertEquals("", c.getProperty(x.getSslKeystorePasswdPathProperty()));
                assertEquals("true", c.getProperty(x.getSslHostnameVerificationEnabledProperty()));
                // ZooKeeper's own code makes a TLS context of it.
                assertEquals("TLSv1.3", x.createSSLContextAndOptions(c).getSSLContext().getProtocol());
            }
        } finally {
            if (previous == null) {
                System.clearProperty("zookeeper.ssl.keyStore.passwordPath");
            } else {
                System.setProperty("zookeeper.ssl.keyStore.passwordPath", previous);
            }
        }
    }

    @Test
    void aMissingTruststoreIsBadInputNamingTheSetting() {
        ZkTlsStores s = new ZkTlsStores(dir.resolve("absent.p12"), certs.passwordFile(), Optional.empty(), Optional.empty());
        BadInputException e = assertThrows(BadInputException.class, s::clientConfig);
        assertTrue(e.getMessage().startsWith("zookeeper.tls.truststore: ") && e.getMessage().contains("absent.p12"), e.getMessage());
    }

    @Test
    void aWrongPasswordIsBadInputNamingThePasswordFileSetting() throws Exception {
        Path wrong = TestSecrets.write(dir.resolve("wrong.password"), "not-the-password");
        ZkTlsStores s = new ZkTlsStores(certs.truststore(), wrong, Optional.empty(), Optional.empty());
        BadInputException e = assertThrows(BadInputException.class, s::clientConfig);
        assertTrue(e.getMessage().contains("zookeeper.tls.truststore-password-file"), e.getMessage());
    }

    @Test
    void aPasswordFileOthersCanReadOrThatIsMissingIsRefused() throws Exception {
        Path open = Files.writeString(dir.resolve("open.password"), "x\n");
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rw-r--r--"));
        BadInputException shared = assertThrows(BadInputException.class,
                () -> new ZkTlsStores(certs.truststore(), open, Optional.empty(), Optional.empty()).clientConfig());
        assertTrue(shared.getMessage().contains("zookeeper.tls.truststore-password-file") && shared.getMessage().contains("chmod 600"),
                shared.getMessage());
        BadInputException missing = assertThrows(BadInputException.class, () -> new ZkTlsStores(certs.truststore(),
                certs.passwordFile(), Optional.of(certs.clientKeystore()), Optional.of(dir.resolve("absent.password")),
                "tls.keystore", "tls.keystore-password-file").clientConfig());
        assertTrue(missing.getMessage().startsWith("tls.keystore-password-file: "), missing.getMessage());
    }

    @Test
    void aKeystoreWithoutAKeyOrWithoutItsPasswordFileIsRefused() {
        BadInputException noKey = assertThrows(BadInputException.class, () -> new ZkTlsStores(certs.truststore(),
                certs.passwordFile(), Optional.of(certs.truststore()), Optional.of(certs.passwordFile())).clientConfig());
        assertTrue(noKey.getMessage().contains("zookeeper.tls.keystore") && noKey.getMessage().contains("no private key"),
                noKey.getMessage());
        BadInputException noPassword = assertThrows(BadInputException.class, () -> new ZkTlsStores(certs.truststore(),
                certs.passwordFile(), Optional.of(certs.clientKeystore()), Optional.empty()).clientConfig());
        assertTrue(noPassword.getMessage().startsWith("zookeeper.tls.keystore-password-file: missing"), noPassword.getMessage());
    }
}

package io.resilientkvm.engine.secret;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --from}: a renewal keeps the CA and the ZooKeeper passwords, renews keys and tokens, and adds a node. */
class PreviousSecretsTest {
    @TempDir
    Path dir;

    private static SecretsRequest request(String instance, String... nodes) throws Exception {
        List<NodeAddress> list = new java.util.ArrayList<>();
        for (String n : nodes) {
            list.add(NodeAddress.parse(n));
        }
        return SecretsRequest.of(instance, list, 8444, 2281, "/etc/zookeeper/tls", "");
    }

    private static String secret(Path f) throws Exception {
        return SecretFiles.readSecret(f, f.toString());
    }

    @Test
    void aRenewalKeepsTheCaAndZookeeperPasswordsAndAddsANode() throws Exception {
        Path old = dir.resolve("old");
        InstanceSecrets.generate(request("kvm1", "node-a=198.18.0.1", "node-b=198.18.0.2"), Clock.systemUTC()).writeTo(old, "--out");
        Path renewed = dir.resolve("new");
        // Later, when the CA is near its end: the node certificates stop with it.
        Clock late = Clock.offset(Clock.system(ZoneOffset.UTC), InstanceCa.CA_VALIDITY.minusDays(100));
        InstanceSecrets s = InstanceSecrets.generate(request("kvm1", "node-a=198.18.0.1", "node-b=198.18.0.2", "node-d=198.18.0.4"),
                PreviousSecrets.read(old, "kvm1", "--from"), late);
        s.writeTo(renewed, "--out");

        X509Certificate ca = InstanceSecretsTest.pem(old.resolve("ca/ca.crt"));
        assertEquals(ca, InstanceSecretsTest.pem(renewed.resolve("ca/ca.crt")));
        assertEquals(secret(old.resolve("ca/zk-super.secret")), secret(renewed.resolve("ca/zk-super.secret")));
        for (String n : List.of("node-a", "node-b", "node-d")) {
            assertEquals(secret(old.resolve("node-a/zk-instance.secret")), secret(renewed.resolve(n).resolve("zk-instance.secret")));
            X509Certificate cert = (X509Certificate) InstanceSecretsTest.p12(renewed.resolve(n).resolve("node.p12")).getCertificate(n);
            InstanceSecretsTest.validate(cert, ca, late.instant());
            assertEquals(ca.getNotAfter(), cert.getNotAfter(), "not valid past its CA");
        }
        for (String n : List.of("node-a", "node-b")) {
            assertEquals(secret(old.resolve(n).resolve("zk-node.secret")), secret(renewed.resolve(n).resolve("zk-node.secret")));
            assertNotEquals(secret(old.resolve(n).resolve("token")), secret(renewed.resolve(n).resolve("token")));
            assertNotEquals(Files.readString(old.resolve("node-a/peers/node-b.crt")), Files.readString(renewed.resolve("node-a/peers/node-b.crt")));
        }
        assertTrue(Files.isRegularFile(renewed.resolve("node-a/peers/node-d.token")));
        assertNotEquals(secret(renewed.resolve("node-a/zk-node.secret")), secret(renewed.resolve("node-d/zk-node.secret")));
        assertTrue(Duration.between(late.instant(), ca.getNotAfter().toInstant()).toDays() < 825);
    }

    @Test
    void anotherInstancesFolderOrOneWithoutItsCaIsRefused() throws Exception {
        Path old = dir.resolve("old");
        InstanceSecrets.generate(request("kvm1", "node-a=198.18.0.1", "node-b=198.18.0.2"), Clock.systemUTC()).writeTo(old, "--out");
        BadInputException other = assertThrows(BadInputException.class, () -> PreviousSecrets.read(old, "kvm2", "--from"));
        assertTrue(other.getMessage().contains("not CN=resilient-kvm CA of instance kvm2"), other.getMessage());
        Path noCa = Files.createDirectories(dir.resolve("no-ca/node-a"));
        BadInputException missing = assertThrows(BadInputException.class,
                () -> PreviousSecrets.read(noCa.getParent(), "kvm1", "--from"));
        assertTrue(missing.getMessage().contains("ca/ folder brought back"), missing.getMessage());
    }
}

package io.resilientkvm.it.netbed;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.drill.netns.NetBed;
import io.resilientkvm.drill.netns.NetnsSecrets;
import io.resilientkvm.engine.secret.Fingerprints;
import io.resilientkvm.engine.secret.InstanceSecrets;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13's "a clone that presents a wrong certificate or token, and a main address in ZooKeeper
 * that is not the configured one, are refused with clear messages", on the three-host bed with
 * TLS and ACLs on ({@link BedInstance}): node-a (main) and node-b run as configured; node-c's real
 * agent is started on its host with one deliberately wrong setting at a time, and the messages an
 * operator sees are checked (the main's log, node-c's log and its importer status in ZooKeeper,
 * which {@code bin/importer status} shows). node-b imports throughout. One instance for the class,
 * steps in order; its wall time is logged. Root only.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class WrongIdentitiesOnBedIT {
    private static final Duration WAIT = BedInstance.WAIT;

    @TempDir
    static Path dir;
    private BedInstance instance;
    private ShellClient observer;

    @BeforeAll
    void start() throws Exception {
        assumeTrue(NetBed.isRoot(), NetBed.NEEDS_ROOT);
        instance = BedInstance.create(dir, "WrongIdentitiesOnBedIT");
        instance.startAgent("node-a", "node-a", "node-a");
        instance.startAgent("node-b", "node-b", "node-b");
        observer = instance.observer();
    }

    @AfterAll
    void stop() {
        if (instance != null) {
            instance.close();
        }
    }

    @Test
    @Order(1)
    void aCloneWithACertificateThatIsNotPinnedIsRefusedAtTheHandshakeAndTheMainLogsItsFingerprint() throws Exception {
        // An independent run of the generator: same names and addresses, another CA and other keys.
        Map<String, String> addresses = new LinkedHashMap<>();
        BedInstance.NODES.forEach(n -> addresses.put(n, instance.host(n).address()));
        NetnsSecrets other = NetnsSecrets.create(dir.resolve("other-secrets"), BedInstance.INSTANCE, addresses,
                instance.host("node-c").address());
        Path foreignKeystore = other.dir().resolve("node-c").resolve(InstanceSecrets.NODE_KEYSTORE);
        X509Certificate foreign = pem(other.dir().resolve("node-a").resolve(InstanceSecrets.peerCertificate("node-c")));
        ObjectNode c = instance.config("node-c");
        ObjectNode ownTls = ((ObjectNode) c.get("tls")).deepCopy();
        ((ObjectNode) c.get("tls")).put("keystore", foreignKeystore.toString())
                .put("keystore-password-file", foreignKeystore + ".password");
        // ZooKeeper still sees node-c's own certificate: only the backup server meets the foreign one.
        ((ObjectNode) c.get("zookeeper").get("tls")).put("keystore", ownTls.get("keystore").asText())
                .put("keystore-password-file", ownTls.get("keystore-password-file").asText());
        instance.writeConfig("node-c-unpinned", c);
        instance.startAgent("node-c", "node-c-unpinned", "node-c-unpinned");

        String fingerprint = Fingerprints.sha256(foreign);
        await("node-a refuses node-c's unpinned certificate").atMost(WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> instance.read("node-a").contains("refused a TLS connection from " + instance.host("node-c").address()));
        String mainLog = instance.read("node-a");
        assertTrue(mainLog.contains(fingerprint), "the main's log names the refused certificate " + fingerprint + ":\n" + mainLog);
        await("node-c says the main refused its certificate").atMost(WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> instance.read("node-c-unpinned").contains("refused this node's certificate"));
        instance.stopAgent("node-c");
        assertNodeBImports();
    }

    @Test
    @Order(2)
    void aCloneWithItsCertificateButAWrongTokenGets401NamingTheNode() throws Exception {
        ObjectNode c = instance.config("node-c");
        Path wrong = Files.createFile(dir.resolve("wrong.token"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(wrong, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n");
        ((ObjectNode) c.get("backup-server")).put("token-file", wrong.toString());
        instance.writeConfig("node-c-wrong-token", c);
        instance.startAgent("node-c", "node-c-wrong-token", "node-c-wrong-token");

        String expected = "401 (a valid bearer token is required (caller: node-c))";
        await("node-c's import error names the 401 and the node").atMost(WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> instance.read("node-c-wrong-token").contains(expected));
        // The same in its importer status (what bin/importer status shows), and never the token.
        String status = await("node-c's status has the error").atMost(WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> observer.send("get " + instance.layout.importerPath("node-c")), s -> s.contains(expected));
        assertFalse(status.contains("0123456789abcdef0123456789abcdef"), status);
        assertFalse(instance.read("node-a").contains("0123456789abcdef0123456789abcdef"), "the main never logs a token");
        instance.stopAgent("node-c");
        assertNodeBImports();
    }

    @Test
    @Order(3)
    void aCloneWhoseConfiguredMainAddressDiffersFromTheAnnouncedOneRefusesToFetch() throws Exception {
        ObjectNode c = instance.config("node-c");
        ((ObjectNode) c.get("peers").get("node-a")).put("address", "198.18.0.9");
        instance.writeConfig("node-c-wrong-address", c);
        instance.startAgent("node-c", "node-c-wrong-address", "node-c-wrong-address");

        await("node-c refuses the announced address").atMost(WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> instance.read("node-c-wrong-address").contains("trusts it at 198.18.0.9 only: not fetching"));
        String log = instance.read("node-c-wrong-address");
        assertTrue(log.contains("announces https://" + instance.host("node-a").address() + ":" + BedInstance.BACKUP_PORT), log);
        instance.stopAgent("node-c");

        // node-c with its right configuration is admitted and catches up.
        instance.startAgent("node-c", "node-c", "node-c");
        instance.nextBackupOnBothClones(observer, null);
    }

    /** node-b, configured right, holds the newest backup while node-c is refused. */
    private void assertNodeBImports() {
        String[] newest = instance.newestBackup(observer);
        await("node-b holds " + newest[0]).atMost(WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> observer.send("holds node-b " + BedInstance.DEVICE + " " + newest[1] + " " + newest[2]), "OK true"::equals);
    }

    private static X509Certificate pem(Path file) throws Exception {
        try (InputStream in = Files.newInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }
}

package io.resilientkvm.engine.secret;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An instance's secrets, written for real and checked with the JDK's own PKIX and file APIs. */
class InstanceSecretsTest {
    static final Instant NOW = Instant.parse("2026-12-01T12:00:00Z");

    @TempDir
    Path dir;

    Path out;
    InstanceSecrets secrets;

    static InstanceSecrets generate(String instance, String... nodes) throws Exception {
        List<NodeAddress> list = new ArrayList<>();
        for (String n : nodes) {
            list.add(NodeAddress.parse(n));
        }
        return InstanceSecrets.generate(SecretsRequest.of(instance, list, 8444, 2281, "/etc/zookeeper/tls", ""),
                Clock.fixed(NOW, ZoneOffset.UTC));
    }

    @BeforeEach
    void writeThreeNodes() throws Exception {
        out = dir.resolve("out");
        secrets = generate("kvm1", "node-a=198.18.0.1", "node-b=198.18.0.2", "node-c=host-c.example.net");
        secrets.writeTo(out, "--out");
    }

    static X509Certificate pem(Path file) throws Exception {
        try (InputStream in = Files.newInputStream(file)) {
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    static KeyStore p12(Path file) throws Exception {
        return WrittenStores.load(file);
    }

    static void validate(X509Certificate cert, X509Certificate ca, Instant at) throws Exception {
        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
        params.setRevocationEnabled(false); // the instance CA publishes no CRL: revocation is by pinning and tokens
        params.setDate(java.util.Date.from(at));
        CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509").generateCertPath(List.of(cert)),
                params);
    }

    @Test
    void everyFolderIsPrivateAndEveryFileTooWithTheLayoutOfTheDocs() throws Exception {
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(out)));
        try (Stream<Path> all = Files.walk(out)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
                assertEquals(Files.isDirectory(p) ? "rwx------" : "rw-------", mode, p.toString());
            }
        }
        for (String f : List.of("README.txt", "ca/ca.p12", "ca/ca.p12.password", "ca/ca.crt", "ca/zk-super.secret",
                "node-a/node.p12", "node-a/node.p12.password", "node-a/ca.p12", "node-a/ca.p12.password", "node-a/ca.crt",
                "node-a/token", "node-a/peers/node-b.crt", "node-a/peers/node-b.token", "node-a/peers/node-c.crt",
                "node-a/peers/node-c.token", "node-a/zk-instance.secret", "node-a/zk-node.secret",
                "node-a/node-config.secrets.json", "node-a/zookeeper/zookeeper.p12", "node-a/zookeeper/zookeeper.p12.password",
                "node-a/zookeeper/ca.p12", "node-a/zookeeper/ca.p12.password", "node-a/zookeeper/zoo-tls.cfg")) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        assertFalse(Files.exists(out.resolve("node-a/peers/node-a.crt")), "a node does not pin itself");
        try (Stream<Path> siblings = Files.list(dir)) {
            assertEquals(List.of(out), siblings.toList(), "no staging folder left behind");
        }
    }

    @Test
    void tokensAreEachNodesOwnAndThePeersHoldTheirCopies() throws Exception {
        List<String> names = List.of("node-a", "node-b", "node-c");
        for (String n : names) {
            String own = SecretFiles.readToken(out.resolve(n).resolve("token"), n);
            assertTrue(own.length() >= SecretFiles.MIN_TOKEN_LENGTH);
            for (String other : names) {
                if (!other.equals(n)) {
                    assertEquals(own, SecretFiles.readToken(out.resolve(other).resolve("peers").resolve(n + ".token"), other));
                    assertNotEquals(own, SecretFiles.readToken(out.resolve(other).resolve("token"), other));
                    assertEquals(certificateOf(other), pem(out.resolve(n).resolve("peers").resolve(other + ".crt")));
                }
            }
        }
        assertEquals(read("node-a/zk-instance.secret"), read("node-b/zk-instance.secret"));
        assertEquals(read("node-a/zk-instance.secret"), read("node-c/zk-instance.secret"));
        assertNotEquals(read("node-a/zk-node.secret"), read("node-b/zk-node.secret"));
        assertNotEquals(read("node-a/zk-node.secret"), read("node-a/zk-instance.secret"));
    }

    private X509Certificate certificateOf(String node) {
        return secrets.nodes().stream().filter(x -> x.node().node().equals(node)).findFirst().orElseThrow().certificate();
    }

    private String read(String relative) throws Exception {
        return SecretFiles.readSecret(out.resolve(relative), relative);
    }

    @Test
    void nodeCertificatesVerifyAgainstTheCaWithTheirNameAddressAndPurposes() throws Exception {
        X509Certificate ca = pem(out.resolve("ca/ca.crt"));
        assertEquals(ca, p12(out.resolve("node-a/ca.p12")).getCertificate("ca"));
        assertTrue(p12(out.resolve("node-a/ca.p12")).isCertificateEntry("ca"));
        KeyStore caKey = p12(out.resolve("ca/ca.p12"));
        assertTrue(caKey.isKeyEntry("ca"));
        assertEquals(ca, caKey.getCertificate("ca"));
        assertEquals(0, ca.getBasicConstraints(), "the CA signs node certificates only (path length 0)");
        for (String n : List.of("node-a", "node-b", "node-c")) {
            KeyStore ks = p12(out.resolve(n).resolve("node.p12"));
            X509Certificate cert = (X509Certificate) ks.getCertificate(n);
            assertTrue(ks.isKeyEntry(n), n);
            assertEquals(ca, ks.getCertificateChain(n)[1]);
            validate(cert, ca, NOW);
            assertEquals("CN=" + n, cert.getSubjectX500Principal().getName());
            assertEquals(List.of("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"), cert.getExtendedKeyUsage());
            assertEquals(-1, cert.getBasicConstraints());
            assertEquals("EC", cert.getPublicKey().getAlgorithm());
            assertEquals(Duration.ofDays(825).plus(InstanceCa.BACKDATE),
                    Duration.between(cert.getNotBefore().toInstant(), cert.getNotAfter().toInstant()));
            assertEquals(cert, pem(out.resolve("node-b".equals(n) ? "node-a" : "node-b").resolve("peers").resolve(n + ".crt")));
            X509Certificate zk = (X509Certificate) p12(out.resolve(n).resolve("zookeeper/zookeeper.p12")).getCertificate("zookeeper");
            validate(zk, ca, NOW);
            assertNotEquals(cert.getPublicKey(), zk.getPublicKey(), "the ZooKeeper server has its own key");
        }
        Collection<List<?>> ipSan = ((X509Certificate) p12(out.resolve("node-a/node.p12")).getCertificate("node-a"))
                .getSubjectAlternativeNames();
        assertEquals(List.of(List.of(7, "198.18.0.1")), List.copyOf(ipSan));
        Collection<List<?>> dnsSan = ((X509Certificate) p12(out.resolve("node-c/node.p12")).getCertificate("node-c"))
                .getSubjectAlternativeNames();
        assertEquals(List.of(List.of(2, "host-c.example.net")), List.copyOf(dnsSan));
        // Past its validity PKIX refuses it: the date is checked, not taken on trust.
        X509Certificate a = pem(out.resolve("node-b/peers/node-a.crt"));
        assertThrows(CertPathValidatorException.class, () -> validate(a, ca, NOW.plus(Duration.ofDays(826))));
    }

    @Test
    void aCertificateOfAnotherInstancesCaIsRefusedByPkix() throws Exception {
        InstanceSecrets other = generate("kvm2", "node-a=198.18.0.1", "node-b=198.18.0.2");
        X509Certificate ca = pem(out.resolve("ca/ca.crt"));
        CertPathValidatorException e = assertThrows(CertPathValidatorException.class,
                () -> validate(other.nodes().get(0).certificate(), ca, NOW));
        assertEquals(java.security.cert.PKIXReason.NO_TRUST_ANCHOR, e.getReason(), e.getMessage());
    }

    @Test
    void theFingerprintsAreTheCertificatesSha256InThePeersFingerprintForm() throws Exception {
        for (InstanceSecrets.NodeSecrets n : secrets.nodes()) {
            X509Certificate written = pem(out.resolve("node-a".equals(n.node().node()) ? "node-b" : "node-a").resolve("peers")
                    .resolve(n.node().node() + ".crt"));
            String hex = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(written.getEncoded()));
            assertEquals("sha256:" + hex.toUpperCase(java.util.Locale.ROOT).replaceAll("(..)(?!$)", "$1:"), n.fingerprint());
            assertTrue(n.fingerprint().matches("^(sha256:|SHA256:)?([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$"), n.fingerprint());
            assertTrue(Files.readString(out.resolve("README.txt")).contains(n.fingerprint()), n.node().node());
        }
    }

    @Test
    void theZookeeperServerLinesNameItsFilesAndTheSuperUsersDigest() throws Exception {
        String cfg = Files.readString(out.resolve("node-b/zookeeper/zoo-tls.cfg"));
        String superPassword = read("ca/zk-super.secret");
        assertTrue(cfg.contains("\nDigestAuthenticationProvider.superDigest="
                + DigestAuthenticationProvider.generateDigest("super:" + superPassword) + "\n"), cfg);
        assertFalse(cfg.contains(superPassword), "the password itself stays with the CA");
        assertTrue(cfg.contains("\nsecureClientPort=2281\nsecureClientPortAddress=198.18.0.2\n"), cfg);
        assertTrue(cfg.contains("\nssl.keyStore.location=/etc/zookeeper/tls/zookeeper.p12\n"), cfg);
        assertTrue(cfg.contains("\nssl.trustStore.passwordPath=/etc/zookeeper/tls/ca.p12.password\n"), cfg);
        assertTrue(cfg.contains("\nssl.clientAuth=need\n"), cfg);
    }

    @Test
    void aFolderThatIsNotEmptyIsRefusedAndLeftAsItWas() throws Exception {
        Path used = Files.createDirectory(dir.resolve("used"));
        Files.writeString(used.resolve("keep.txt"), "mine");
        BadInputException e = assertThrows(BadInputException.class, () -> secrets.writeTo(used, "--out"));
        assertTrue(e.getMessage().contains("--out " + used + ": the folder is not empty"), e.getMessage());
        try (Stream<Path> left = Files.list(used)) {
            assertEquals(List.of(used.resolve("keep.txt")), left.toList());
        }
        assertEquals("mine", Files.readString(used.resolve("keep.txt")));
        BadInputException again = assertThrows(BadInputException.class, () -> secrets.writeTo(out, "--out"));
        assertTrue(again.getMessage().contains("not empty"), again.getMessage());
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        assertTrue(assertThrows(BadInputException.class, () -> secrets.writeTo(file, "--out")).getMessage()
                .contains("is not a folder"));
    }

    @Test
    void anEmptyFolderIsFilledAndMadePrivate() throws Exception {
        Path empty = Files.createDirectory(dir.resolve("empty"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwxr-xr-x")));
        generate("kvm1", "node-a=198.18.0.1", "node-b=198.18.0.2").writeTo(empty, "--out");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(empty)));
        assertTrue(Files.isRegularFile(empty.resolve("node-b/peers/node-a.token")));
    }

    @Test
    void badRequestsAreRefusedNamingEveryProblem() throws Exception {
        BadInputException e = assertThrows(BadInputException.class, () -> SecretsRequest.of("bad/name",
                List.of(NodeAddress.parse("node-a=198.18.0.1"), NodeAddress.parse("node-a=198.18.0.2")), 0, 70000, "etc/zk", "/abs"));
        assertEquals(6, e.problems().size(), e.getMessage());
        assertTrue(e.getMessage().contains("node-a is given twice"), e.getMessage());
        BadInputException one = assertThrows(BadInputException.class, () -> SecretsRequest.of("kvm1",
                List.of(NodeAddress.parse("node-a=198.18.0.1")), 8444, 2281, "/etc/zookeeper/tls", ""));
        assertTrue(one.getMessage().contains("--node: 1 given"), one.getMessage());
        assertInstanceOf(BadInputException.class, one);
    }
}

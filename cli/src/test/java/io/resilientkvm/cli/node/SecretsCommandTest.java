package io.resilientkvm.cli.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.cli.CommandRunner;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bin/node secrets}: writes the folders and prints the fingerprints; bad input is exit 2 and writes nothing. */
class SecretsCommandTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    private static Run node(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CommandRunner.run(new NodeCommand(), new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    private Run secrets(Path out, String... more) {
        List<String> args = new java.util.ArrayList<>(List.of("secrets", "--instance", "kvm1", "--node", "node-a=198.18.0.1",
                "--node", "node-b=198.18.0.2", "--node", "node-c=198.18.0.3", "--out", out.toString()));
        args.addAll(List.of(more));
        return node(args.toArray(String[]::new));
    }

    private static String sha256(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            X509Certificate c = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            return "sha256:" + HexFormat.ofDelimiter(":").formatHex(MessageDigest.getInstance("SHA-256").digest(c.getEncoded()))
                    .toUpperCase(Locale.ROOT);
        }
    }

    @Test
    void writesEveryNodesFolderAndPrintsTheFingerprintsOfTheWrittenCertificates() throws Exception {
        Path out = dir.resolve("secrets");
        Run r = secrets(out);
        assertEquals(0, r.code(), r.err());
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(out)));
        for (String n : List.of("node-a", "node-b", "node-c")) {
            Path pinned = out.resolve("node-a".equals(n) ? "node-b" : "node-a").resolve("peers").resolve(n + ".crt");
            String fingerprint = sha256(pinned);
            assertTrue(r.out().contains(fingerprint), n + " " + fingerprint + " in\n" + r.out());
            assertTrue(Files.readString(out.resolve("README.txt")).contains(fingerprint));
        }
        assertTrue(r.out().contains(sha256(out.resolve("ca/ca.crt"))), r.out());
        assertTrue(r.out().contains("node-a       IP       198.18.0.1, valid until "), r.out());
    }

    @Test
    void jsonNamesEachNodesFolderAndFingerprint() throws Exception {
        Path out = dir.resolve("secrets");
        Run r = secrets(out, "--json", "--channel-port", "9444", "--path-prefix", "secrets");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(3, j.path("nodes").size());
        JsonNode b = j.path("nodes").get(1);
        assertEquals("node-b", b.path("node").asText());
        assertEquals(out.toAbsolutePath().resolve("node-b").toString(), b.path("folder").asText());
        assertEquals(sha256(out.resolve("node-a/peers/node-b.crt")), b.path("fingerprint").asText());
        JsonNode fragment = new ObjectMapper().readTree(out.resolve("node-b/node-config.secrets.json").toFile());
        assertEquals("secrets/peers/node-a.token", fragment.path("peers").path("node-a").path("token-file").asText());
        assertEquals(9444, fragment.path("peers").path("node-c").path("channel-port").asInt());
    }

    @Test
    void aFolderThatIsNotEmptyIsRefusedWithExit2AndNothingWritten() throws Exception {
        Path out = Files.createDirectory(dir.resolve("secrets"));
        Files.writeString(out.resolve("old.token"), "keep");
        Run r = secrets(out);
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--out " + out + ": the folder is not empty"), r.err());
        try (Stream<Path> left = Files.list(out); Stream<Path> beside = Files.list(dir)) {
            assertEquals(List.of(out.resolve("old.token")), left.toList());
            assertEquals(List.of(out), beside.toList());
        }
        assertEquals("", r.out());
    }

    @Test
    void badNodeValuesAreRefusedEachWithItsReason() {
        Path out = dir.resolve("secrets");
        Run r = node("secrets", "--instance", "kvm1", "--node", "node-a", "--node", "node-b=0.0.0.0", "--node",
                "node-c=198.18.0.3:2181", "--out", out.toString());
        assertEquals(2, r.code(), r.err());
        List<String> lines = r.err().lines().toList();
        assertEquals(3, lines.size(), r.err());
        assertTrue(lines.get(0).startsWith("--node 'node-a': expected NAME=ADDRESS"), r.err());
        assertTrue(lines.get(1).contains("is a wildcard"), r.err());
        assertTrue(lines.get(2).contains("neither an IP address nor a DNS name"), r.err());
        assertFalse(Files.exists(out));

        Run twice = node("secrets", "--instance", "kvm1", "--node", "node-a=198.18.0.1", "--node", "node-a=198.18.0.2",
                "--out", out.toString());
        assertEquals(2, twice.code(), twice.err());
        assertTrue(twice.err().contains("node-a is given twice"), twice.err());
        Run missing = node("secrets", "--instance", "kvm1", "--out", out.toString());
        assertEquals(2, missing.code(), missing.err());
        assertTrue(missing.err().contains("--node"), missing.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void theAgentWithoutConfigIsStillBadInput() {
        Run r = node();
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--config: missing"), r.err());
    }
}

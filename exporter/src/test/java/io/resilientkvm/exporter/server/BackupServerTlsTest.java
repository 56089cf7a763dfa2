package io.resilientkvm.exporter.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.secret.TestSecrets;
import io.resilientkvm.engine.tls.TestCertificates;
import io.resilientkvm.engine.tls.TestCertificates.NodeCert;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the backup server requires before it serves beyond loopback, and what it takes from a node configuration. */
class BackupServerTlsTest {
    private static final String TOKEN = "own-token-0123456789abcdef0123456789abcd";

    @TempDir
    Path dir;

    private Path token() throws Exception {
        Path t = dir.resolve("token");
        TestSecrets.write(t, TOKEN);
        return t;
    }

    @Test
    void aBindBeyondLoopbackWithoutTlsIsRefusedBeforeAnySocketOpens() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        // 198.18.0.1 is no address of this host: a bind would fail as an operation; this refusal comes first.
        for (String bind : new String[] {"198.18.0.1", "0.0.0.0", "::"}) {
            BackupServerSettings s = new BackupServerSettings(bind, port, dir.resolve("repo"), token(), Optional.empty(),
                    Optional.empty(), 2);
            BadInputException e = assertThrows(BadInputException.class, () -> BackupServer.start(s));
            assertTrue(e.getMessage().contains("backup-server.bind is " + bind + ", beyond loopback, but no TLS identity is set"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("set tls") && e.getMessage().contains("bin/node secrets"), e.getMessage());
        }
        // Nothing was left listening on the port.
        try (ServerSocket again = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            assertEquals(port, again.getLocalPort());
        }
    }

    @Test
    void aNodeServesWithItsTlsIdentityAndTakesTheClonesTokensAndPins() throws Exception {
        NodeCert a = TestCertificates.node(dir, "node-a");
        NodeCert b = TestCertificates.node(dir, "node-b");
        Path tokenB = dir.resolve("node-b.token");
        TestSecrets.write(tokenB, "node-b-token-0123456789abcdef0123456789");
        Path cfg = dir.resolve("node-a.json");
        Files.writeString(cfg, """
                {"node": "node-a", "data-dir": "data", "parameters": "p.json",
                 "tls": {"keystore": "%s", "keystore-password-file": "%s"},
                 "backup-server": {"bind": "127.0.0.1", "token-file": "token"},
                 "peers": {"node-b": {"address": "127.0.0.1", "certificate": "%s", "token-file": "node-b.token"},
                           "node-c": {"address": "127.0.0.1"}}}
                """.formatted(a.keystore(), a.passwordFile(), b.certificate()));
        token();
        NodeConfig config = NodeConfig.load(cfg);
        BackupServerSettings s = BackupServerSettings.from(config, dir.resolve("repo"));
        assertEquals(Optional.of(a.keystore()), s.keystore());
        assertEquals("tls.keystore", s.keystoreSetting());
        assertEquals(Map.of("node-b", tokenB), s.peerTokens());
        assertEquals(Optional.of("node-b"), s.clients().nodeOf(io.resilientkvm.engine.tls.PinnedTrust.readPem(b.certificate())));
        try (BackupServer server = BackupServer.start(s)) {
            assertTrue(server.tls());
            assertTrue(server.baseUri().toString().startsWith("https://127.0.0.1:"), server.baseUri().toString());
        }
    }

    @Test
    void aClonesTokenFileThatIsNoSecretStopsTheStartButAMissingOneOnlyRevokesThatClone() throws Exception {
        Path tokenB = dir.resolve("node-b.token");
        Path tokenC = dir.resolve("node-c.token");
        BackupServerSettings s = BackupServerSettings.loopback(dir.resolve("repo"), token())
                .withPeers(Map.of("node-b", tokenB, "node-c", tokenC), io.resilientkvm.engine.tls.PinnedTrust.NONE);
        // node-c's file does not exist (revoked); node-b's is there.
        TestSecrets.write(tokenB, "node-b-token-0123456789abcdef0123456789");
        try (BackupServer server = BackupServer.start(s)) {
            assertTrue(server.port() > 0);
        }
        Files.setPosixFilePermissions(tokenB, PosixFilePermissions.fromString("rw-r--r--"));
        BadInputException e = assertThrows(BadInputException.class, () -> BackupServer.start(s));
        assertTrue(e.getMessage().contains("peers.node-b.token-file") && e.getMessage().contains("chmod 600"), e.getMessage());
    }
}

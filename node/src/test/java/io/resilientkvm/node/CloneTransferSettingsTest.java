package io.resilientkvm.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.secret.TestSecrets;
import io.resilientkvm.engine.tls.PinnedTrust;
import io.resilientkvm.engine.tls.TestCertificates;
import io.resilientkvm.engine.tls.TestCertificates.NodeCert;
import io.resilientkvm.importer.transfer.TransferSettings;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How a clone's node configuration turns into the fetch of the epoch owner's backups. */
class CloneTransferSettingsTest {
    private static final String TOKEN = "node-b-token-0123456789abcdef0123456789";

    @TempDir
    Path dir;

    private NodeConfig config(String tls, String peers) throws Exception {
        Path cfg = dir.resolve("node-b.json");
        Files.writeString(cfg, """
                {"node": "node-b", "data-dir": "data", "parameters": "p.json", %s
                 "backup-server": {"token-file": "token"}, "peers": {%s}}
                """.formatted(tls, peers));
        return NodeConfig.load(cfg);
    }

    @Test
    void aPinnedOwnerIsTrustedByItsCertificateOnlyAndGetsThisNodesIdentity() throws Exception {
        NodeCert a = TestCertificates.node(dir, "node-a");
        NodeCert b = TestCertificates.node(dir, "node-b");
        NodeCert c = TestCertificates.node(dir, "node-c");
        TestSecrets.write(dir.resolve("token"), TOKEN);
        NodeConfig cfg = config("""
                "tls": {"keystore": "%s", "keystore-password-file": "%s"},""".formatted(b.keystore(), b.passwordFile()), """
                "node-a": {"address": "198.18.0.1", "certificate": "%s"}, "node-c": {"address": "198.18.0.3", "certificate": "%s"},
                "node-d": {"address": "198.18.0.4"}""".formatted(a.certificate(), c.certificate()));
        URI main = URI.create("https://198.18.0.1:8443");
        TransferSettings s = CloneRole.transferSettings(cfg, "node-a", main, TOKEN, dir.resolve("token"));
        TransferSettings.PinnedMain p = s.pinned().orElseThrow();
        assertEquals("node-a", p.node());
        assertEquals(b.identity(), p.identity());
        assertEquals(Optional.of("node-a"), p.trust().nodeOf(PinnedTrust.readPem(a.certificate())));
        assertEquals(Optional.empty(), p.trust().nodeOf(PinnedTrust.readPem(c.certificate())), "another peer is no main");
        assertEquals(Optional.empty(), s.refusal());
        // An owner without a pin beyond loopback: refused by the fetcher, naming what to set.
        TransferSettings d = CloneRole.transferSettings(cfg, "node-d", URI.create("https://198.18.0.4:8443"), TOKEN,
                dir.resolve("token"));
        assertTrue(d.pinned().isEmpty());
        assertTrue(d.refusal().orElseThrow().contains("is not pinned"), d.refusal().toString());
    }

    @Test
    void aPinnedOwnerWithoutThisNodesTlsIdentityIsBadInput() throws Exception {
        NodeCert a = TestCertificates.node(dir, "node-a");
        TestSecrets.write(dir.resolve("token"), TOKEN);
        NodeConfig cfg = config("", """
                "node-a": {"address": "198.18.0.1", "certificate": "%s"}""".formatted(a.certificate()));
        BadInputException e = assertThrows(BadInputException.class, () -> CloneRole.transferSettings(cfg, "node-a",
                URI.create("https://198.18.0.1:8443"), TOKEN, dir.resolve("token")));
        assertTrue(e.getMessage().contains("peers.node-a is pinned but node-b has no tls identity"), e.getMessage());
    }
}

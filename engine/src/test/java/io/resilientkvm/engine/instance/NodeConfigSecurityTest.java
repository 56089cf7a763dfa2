package io.resilientkvm.engine.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The security fields of a node configuration: {@code tls}, {@code peer-channel}, {@code zookeeper.tls}, pinned peers. */
class NodeConfigSecurityTest {
    @TempDir
    Path dir;

    private Path config(String more) throws Exception {
        return Files.writeString(dir.resolve("node.json"), """
                {"node": "node-a", "instance": "kvm1", "data-dir": "data", "parameters": "p.json",
                 "network": {"ipv4": "127.0.0.1"}, "vnc": {"listen": "unix"}, "qemu": {"accelerator": "auto"}
                 %s}
                """.formatted(more));
    }

    @Test
    void everySecurityFieldIsReadAndResolvedAgainstTheFile() throws Exception {
        NodeConfig c = NodeConfig.load(config("""
                , "tls": {"keystore": "s/node.p12", "keystore-password-file": "s/node.p12.password"},
                "peer-channel": {"bind": "198.18.0.1", "port": 8444},
                "zookeeper": {"connect": "198.18.0.1:2281", "tls": {"truststore": "s/ca.p12", "truststore-password-file": "s/ca.password"}},
                "peers": {
                  "node-b": {"address": "198.18.0.2", "certificate": "s/peers/node-b.crt", "token-file": "s/peers/node-b.token", "channel-port": 8444},
                  "node-c": {"address": "198.18.0.3", "fingerprint": "sha256:%s"}}
                """.formatted("AB:".repeat(31) + "CD")));
        assertEquals(Optional.of(new NodeConfig.Identity(dir.resolve("s/node.p12"), dir.resolve("s/node.p12.password"))), c.tls());
        assertEquals(Optional.of(new NodeConfig.PeerChannel("198.18.0.1", 8444)), c.peerChannel());
        assertEquals(Optional.of(new NodeConfig.ZkTls(dir.resolve("s/ca.p12"), dir.resolve("s/ca.password"), Optional.empty(),
                Optional.empty())), c.zookeeper().tls());
        NodeConfig.Peer b = c.peers().get("node-b");
        assertEquals(new NodeConfig.Peer("198.18.0.2", Optional.of(dir.resolve("s/peers/node-b.crt")), Optional.empty(),
                Optional.of(dir.resolve("s/peers/node-b.token")), OptionalInt.of(8444)), b);
        assertTrue(b.pinned());
        assertTrue(c.peers().get("node-c").pinned());
        assertEquals(Optional.of("sha256:" + "AB:".repeat(31) + "CD"), c.peers().get("node-c").fingerprint());
    }

    @Test
    void withoutThemNothingIsSet() throws Exception {
        NodeConfig c = NodeConfig.load(config(""));
        assertEquals(Optional.empty(), c.tls());
        assertEquals(Optional.empty(), c.peerChannel());
        assertEquals(Optional.empty(), c.zookeeper().tls());
    }

    @Test
    void aPeerPinnedTwiceOrByAMalformedFingerprintIsRefused() throws Exception {
        BadInputException both = assertThrows(BadInputException.class, () -> NodeConfig.load(config("""
                , "peers": {"node-b": {"address": "198.18.0.2", "certificate": "b.crt", "fingerprint": "%s"}}
                """.formatted("ab".repeat(32)))));
        assertTrue(both.getMessage().contains("node-b"), both.getMessage());
        BadInputException bad = assertThrows(BadInputException.class, () -> NodeConfig.load(config("""
                , "peers": {"node-b": {"address": "198.18.0.2", "fingerprint": "not-a-fingerprint"}}
                """)));
        assertTrue(bad.getMessage().contains("fingerprint"), bad.getMessage());
    }

    @Test
    void aTlsIdentityWithoutItsPasswordFileIsRefused() throws Exception {
        BadInputException e = assertThrows(BadInputException.class,
                () -> NodeConfig.load(config(", \"tls\": {\"keystore\": \"node.p12\"}")));
        assertTrue(e.getMessage().contains("keystore-password-file"), e.getMessage());
    }
}

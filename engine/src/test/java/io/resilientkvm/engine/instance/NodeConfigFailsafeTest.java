package io.resilientkvm.engine.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code zookeeper.failsafe}: its default follows the peers' channel and identities; true without them is refused. */
class NodeConfigFailsafeTest {
    private static final String SECURED = """
            , "tls": {"keystore": "s/node.p12", "keystore-password-file": "s/node.p12.password"},
            "peer-channel": {"bind": "198.18.0.1", "port": 8444},
            "peers": {
              "node-b": {"address": "198.18.0.2", "certificate": "s/b.crt", "channel-port": 8444},
              "node-c": {"address": "198.18.0.3", "certificate": "s/c.crt", "channel-port": 8444}}
            """;

    @TempDir
    Path dir;

    private NodeConfig load(String zookeeper, String more) throws Exception {
        return NodeConfig.load(Files.writeString(dir.resolve("node.json"), """
                {"node": "node-a", "instance": "kvm1", "data-dir": "data", "parameters": "p.json",
                 "network": {"ipv4": "127.0.0.1"}, "vnc": {"listen": "unix"}, "qemu": {"accelerator": "auto"},
                 "zookeeper": {"connect": "198.18.0.1:2181" %s}
                 %s}
                """.formatted(zookeeper, more)));
    }

    @Test
    void onByDefaultWhenEveryPeerHasAChannelAndAPinnedIdentity() throws Exception {
        assertTrue(load("", SECURED).failsafe());
        assertFalse(load(", \"failsafe\": false", SECURED).failsafe(), "an operator may turn it off");
    }

    @Test
    void offByDefaultOnOneMachineWithoutPeers() throws Exception {
        NodeConfig c = load("", "");
        assertFalse(c.failsafe());
        assertEquals(List.of("tls (this node's identity)", "peer-channel", "peers (the instance's other nodes)"), c.failsafeMissing());
    }

    @Test
    void trueWithoutWhatItNeedsIsRefusedNamingEachMissingField() throws Exception {
        String unpinned = SECURED.replace("\"certificate\": \"s/c.crt\", \"channel-port\": 8444", "\"certificate\": \"s/c.crt\"")
                .replace("\"certificate\": \"s/b.crt\", ", "");
        assertFalse(load("", unpinned).failsafe(), "not on by default either");
        BadInputException e = assertThrows(BadInputException.class, () -> load(", \"failsafe\": true", unpinned));
        assertTrue(e.getMessage().contains("zookeeper.failsafe is true but fail-safe mode needs peers.node-b.certificate or"
                + " fingerprint, peers.node-c.channel-port"), e.getMessage());
    }
}

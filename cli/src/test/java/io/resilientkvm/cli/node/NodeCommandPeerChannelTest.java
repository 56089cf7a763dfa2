package io.resilientkvm.cli.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.cli.CommandRunner;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bin/node with {@code peer-channel} but no {@code tls} and no pinned peers: exit 2, one line per setting to add. */
class NodeCommandPeerChannelTest {
    @TempDir
    Path dir;

    @Test
    void aPeerChannelWithoutTlsOrPinnedPeersExitsTwoNamingTheSettings() throws Exception {
        Path params = Files.writeString(dir.resolve("params.json"), """
                {"-sla-0-computer_guid": "node-a", "-sla-1-computer_guid": "node-b", "-sla-2-computer_guid": "node-c",
                 "ram-size": 256, "cpu-count": 1, "disk-size": 1, "use-nat": false}
                """);
        Path token = Files.setPosixFilePermissions(Files.writeString(dir.resolve("token"), "0123456789abcdef0123456789abcdef\n"),
                PosixFilePermissions.fromString("rw-------"));
        Path config = Files.writeString(dir.resolve("node-b.json"), """
                {"node": "node-b", "instance": "t", "data-dir": "%s", "parameters": "%s", "software-type": "kvm-resilient",
                 "zookeeper": {"connect": "127.0.0.1:1", "session-timeout-ms": 4000, "suspend-bound-ms": 2000},
                 "backup-server": {"token-file": "%s"},
                 "peer-channel": {"bind": "198.18.0.2", "port": 8444},
                 "peers": {"node-a": {"address": "198.18.0.1", "channel-port": 8444}}}
                """.formatted(dir.resolve("node-b"), params, token));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CommandRunner.run(new NodeCommand(), new PrintWriter(out), new PrintWriter(err), "--config", config.toString());
        assertEquals(2, code, err.toString());
        assertTrue(err.toString().contains("peer-channel is set but tls is not") && err.toString().contains("tls.keystore"),
                err.toString());
        assertTrue(err.toString().contains("peers.node-a has no certificate or fingerprint"), err.toString());
        assertFalse(err.toString().contains("\tat "), "no stack trace: " + err);
    }
}

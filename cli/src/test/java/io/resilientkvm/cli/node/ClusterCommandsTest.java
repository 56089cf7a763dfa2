package io.resilientkvm.cli.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.cli.takeover.TakeoverCommand;
import io.resilientkvm.node.zk.EmbeddedZooKeeper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bin/node, bin/importer and bin/takeover: bad input is exit 2 naming the problem; refusals exit 3. */
class ClusterCommandsTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    private static Run run(Object command, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CommandRunner.run(command, new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    private Path nodeConfig(String connect) throws Exception {
        Path params = Files.writeString(dir.resolve("params.json"), """
                {"-sla-0-computer_guid": "node-a", "-sla-1-computer_guid": "node-b", "-sla-2-computer_guid": "node-c",
                 "ram-size": 256, "cpu-count": 1, "disk-size": 1, "use-nat": false}
                """);
        Path token = Files.setPosixFilePermissions(Files.writeString(dir.resolve("token"), "0123456789abcdef0123456789abcdef\n"),
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        return Files.writeString(dir.resolve("node-b.json"), """
                {"node": "node-b", "instance": "t", "data-dir": "%s", "parameters": "%s", "software-type": "kvm-resilient",
                 "zookeeper": {"connect": "%s", "session-timeout-ms": 4000, "suspend-bound-ms": 2000},
                 "backup-server": {"token-file": "%s"}}
                """.formatted(dir.resolve("node-b"), params, connect, token));
    }

    @Test
    void takeoverWithoutConfigIsBadInput() {
        Run r = run(new TakeoverCommand(), "--yes");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--config"), r.err());
        Run s = run(new TakeoverCommand(), "status");
        assertEquals(2, s.code(), s.err());
    }

    @Test
    void takeoverIsRefusedWhenThisNodesAgentIsNotRunning() throws Exception {
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0)) {
            Run r = run(new TakeoverCommand(), "--config", nodeConfig(zk.connectString()).toString(), "--yes");
            assertEquals(3, r.code(), r.err());
            assertTrue(r.err().contains("agent of node-b is not running"), r.err());
        }
    }

    @Test
    void aStandaloneNodeConfigIsBadInputForTheAgentAndTheImporter() throws Exception {
        Path params = Files.writeString(dir.resolve("p.json"), "{\"ram-size\": 256}");
        Path config = Files.writeString(dir.resolve("n.json"), """
                {"node": "n1", "data-dir": "%s", "parameters": "%s"}
                """.formatted(dir.resolve("n1"), params));
        Run node = run(new NodeCommand(), "--config", config.toString());
        assertEquals(2, node.code(), node.err());
        assertTrue(node.err().contains("software-type"), node.err());
        Run importer = run(new ImporterCommand(), "--config", config.toString());
        assertEquals(2, importer.code(), importer.err());
        assertTrue(importer.err().contains("zookeeper.connect"), importer.err());
    }
}

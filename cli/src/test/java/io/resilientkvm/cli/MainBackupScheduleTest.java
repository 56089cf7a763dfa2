package io.resilientkvm.cli;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.cli.node.ImporterCommand;
import io.resilientkvm.node.NodeAgent;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.node.zk.EmbeddedZooKeeper;
import io.resilientkvm.takeover.membership.Role;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Without resiliency-backup-periodicity a real main (VM, ZooKeeper) backs up daily at a random time chosen once,
 * recorded in etc/.backup-time, kept across a restart, and shown by bin/importer status.
 */
class MainBackupScheduleTest {
    @TempDir
    Path dir;

    private static String status(Path config) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CommandRunner.run(new ImporterCommand(), new PrintWriter(out), new PrintWriter(err), "status", "--config",
                config.toString());
        assertEquals(0, code, err.toString());
        return out.toString();
    }

    @Test
    void theMainsRandomDailyTimeIsKeptAcrossRestartsAndShownInTheStatus() throws Exception {
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0)) {
            Path params = Files.writeString(dir.resolve("params.json"), """
                    {"-sla-0-computer_guid": "node-a", "-sla-1-computer_guid": "node-b", "-sla-2-computer_guid": "node-c",
                     "ram-size": 256, "cpu-count": 1, "disk-size": 1, "use-nat": false, "use-tap": false}
                    """);
            Path token = Files.setPosixFilePermissions(Files.writeString(dir.resolve("token"), "0123456789abcdef0123456789abcdef\n"),
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            Path config = Files.writeString(dir.resolve("node-a.json"), """
                    {"node": "node-a", "instance": "t", "data-dir": "%s", "parameters": "%s", "software-type": "kvm-resilient",
                     "zookeeper": {"connect": "%s", "session-timeout-ms": 4000, "suspend-bound-ms": 2000},
                     "backup-server": {"token-file": "%s"}, "vnc": {"listen": "none"}}
                    """.formatted(dir.resolve("node-a"), params, zk.connectString(), token));
            Path file = dir.resolve("node-a").resolve("etc").resolve(".backup-time");

            String first;
            try (NodeAgent main = NodeAgent.start(NodeConfig.load(config))) {
                assertEquals(Role.MAIN, main.role());
                JsonNode chosen = new ObjectMapper().readTree(Files.readString(file));
                String cron = chosen.path("minute").asInt() + " " + chosen.path("hour").asInt() + " * * *";
                String shown = "backups: cron '" + cron + "' (daily at " + String.format("%02d:%02d", chosen.path("hour").asInt(),
                        chosen.path("minute").asInt()) + " host time, chosen at random once and kept in " + file + ")";
                AtomicReference<String> out = new AtomicReference<>();
                await().atMost(Duration.ofSeconds(20)).until(() -> {
                    out.set(status(config));
                    return out.get().contains(shown);
                });
                assertTrue(out.get().contains("node-a               MAIN"), out.get());
                first = Files.readString(file);
            }
            try (NodeAgent again = NodeAgent.start(NodeConfig.load(config))) {
                assertEquals(Role.MAIN, again.role());
                assertEquals(first, Files.readString(file), "chosen once: a restart keeps the recorded time");
            }
        }
    }
}

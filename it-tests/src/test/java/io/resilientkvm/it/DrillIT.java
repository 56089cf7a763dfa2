package io.resilientkvm.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.drill.DrillCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The short drill CI runs: a ZooKeeper, three node agents as separate JVMs, a real VM, backups,
 * SIGKILL of the main, bin/takeover, byte-for-byte check of the new main's disk.
 */
class DrillIT {
    @TempDir
    Path dir;

    @Test
    void aShortDrillPassesEveryCheckAndCleansUp() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Path scratch = dir.resolve("drill");
        int exit = CommandRunner.run(new DrillCommand(), new PrintWriter(out, true), new PrintWriter(err, true),
                "--workload", "qemu-io", "--disk-size", "64", "--rounds", "1", "--backups", "2", "--interval", "5", "--dir", scratch.toString(), "--json");
        JsonNode report = new ObjectMapper().readTree(out.toString());
        assertEquals(0, exit, "drill failed:\n" + out + "\n" + err);
        assertTrue(report.path("passed").asBoolean(), out.toString());
        JsonNode round = report.path("rounds").get(0);
        assertEquals("node-a", round.path("oldMain").asText());
        assertEquals("node-b", round.path("newMain").asText());
        assertEquals(1, round.path("epoch").asInt());
        assertEquals(2, round.path("backups").asInt());
        assertTrue(round.path("rtoSeconds").asDouble() > 0);
        assertEquals(7, report.path("checks").size(), out.toString());
        report.path("checks").forEach(c -> assertTrue(c.path("passed").asBoolean(), c.toString()));
        assertTrue(Files.notExists(scratch), "a passed drill removes its scratch folder");
    }
}

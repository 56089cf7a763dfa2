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
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The drill with the tiny Linux guest (KVM when it boots the guest, TCG otherwise; the drill
 * scales its deadlines for TCG): three node agents, backups of two disks quiesced through the
 * guest agent, SIGKILL of the main, bin/takeover, and the checks at the guest's level.
 */
class GuestDrillIT {
    @TempDir
    Path dir;

    @Test
    void theGuestDrillPassesEveryCheckAtTheGuestsLevel() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Path scratch = dir.resolve("drill");
        int exit = CommandRunner.run(new DrillCommand(), new PrintWriter(out, true), new PrintWriter(err, true),
                "--workload", "guest", "--disk-size", "256", "--rounds", "1", "--backups", "2", "--interval", "5",
                "--dir", scratch.toString(), "--json");
        System.out.println(err); // the drill's steps: the closing note quotes them
        System.out.println(out);
        assertEquals(0, exit, "drill failed:\n" + out + "\n" + err);
        JsonNode report = new ObjectMapper().readTree(out.toString());
        assertTrue(report.path("passed").asBoolean(), out.toString());
        JsonNode round = report.path("rounds").get(0);
        assertEquals("node-b", round.path("newMain").asText());
        assertTrue(round.path("rpoRecords").asLong() >= 0, round.toString());
        assertTrue(round.path("rtoSeconds").asDouble() >= round.path("rtoVmSeconds").asDouble(),
                "the guest answers HTTP after its VM answers QMP: " + round);
        List<String> names = new ArrayList<>();
        report.path("checks").forEach(c -> {
            assertTrue(c.path("passed").asBoolean(), c.toString());
            names.add(c.path("name").asText());
        });
        for (String must : List.of("answers HTTP on the NAT forward", "restored filesystems are clean",
                "present with a valid checksum, on both disks", "both disks at one point", "exactly what the old main wrote",
                "boot-time e2fsck -fn found nothing to repair", "read data-to-vm from 10.0.2.100")) {
            assertTrue(names.stream().anyMatch(n -> n.contains(must)), "no check \"" + must + "\" in " + names);
        }
        assertTrue(Files.notExists(scratch), "a passed drill removes its scratch folder");
    }
}

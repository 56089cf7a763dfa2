package io.resilientkvm.it.netbed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.resilientkvm.drill.netns.NetBed;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/drill --hosts}: the drill across three namespaced hosts (a 3-server ZooKeeper
 * ensemble, TLS only, with ACLs, one server per host; backup servers over mutual TLS with pinned
 * certificates and per-clone tokens, and NAT forwards, on the hosts' addresses; the peer channel;
 * bin/takeover on the clone's host), with the tiny guest. Root only.
 */
class NetnsDrillIT {
    @TempDir
    Path dir;

    @Test
    void theDrillPassesAcrossThreeNamespacedHosts() throws Exception {
        assumeTrue(NetBed.isRoot(), NetBed.NEEDS_ROOT);
        Path scratch = dir.resolve("drill");
        JsonNode report = DrillOnBed.passed("--disk-size", "256", "--rounds", "1", "--backups", "2", "--dir", scratch.toString());
        JsonNode round = report.path("rounds").get(0);
        assertEquals("node-a", round.path("oldMain").asText());
        assertEquals("node-b", round.path("newMain").asText());
        assertEquals(1, round.path("epoch").asInt());
        // The main announced its host's address over HTTPS, and the restored guest answered on node-b's host address.
        assertTrue(DrillOnBed.check(report, "announces its backup server at its host's address").path("detail").asText()
                .startsWith("https://198.18.0.1:"), report.toString());
        String tls = DrillOnBed.check(report, "TLS: backup servers, ZooKeeper, peer channel").path("detail").asText();
        for (String seen : List.of("CN=node-a; ", "198.18.0.2:8444: CN=node-b", "198.18.0.3:2281: CN=node-c zookeeper")) {
            assertTrue(tls.contains(seen), tls);
        }
        DrillOnBed.check(report, "the restored guest boots and answers HTTP on the NAT forward 198.18.0.2:");
        DrillOnBed.check(report, "bin/takeover on node-b exits 0");
        DrillOnBed.check(report, "node-c follows the new main node-b");
        assertTrue(Files.notExists(scratch), "a passed drill removes its scratch folder");
    }
}

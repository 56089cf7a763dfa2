package io.resilientkvm.it.netbed;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.resilientkvm.drill.netns.NetBed;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main's host cut from everything (its link down, {@link NetBed#cut}) on the three-host bed,
 * through {@code bin/drill --hosts --disaster cut}: the main fences itself (its VM stops, its agent
 * exits 3) before the new main's VM starts; bin/takeover on node-b's host succeeds; node-c follows
 * the new main across the namespaces; when the link returns the old main rejoins as a clone and
 * imports a backup of the new main (after {@code bin/takeover clear-fence} on its host, as the
 * drill does). TLS and ACLs on throughout (the drill's TLS check). Each timing is logged. Root only.
 */
class HostCutTakeoverIT {
    @TempDir
    Path dir;

    @Test
    void aCutMainFencesItselfACloneTakesOverAndTheOldMainRejoinsWhenItsLinkReturns() throws Exception {
        assumeTrue(NetBed.isRoot(), NetBed.NEEDS_ROOT);
        JsonNode report = DrillOnBed.passed("--disaster", "cut", "--workload", "qemu-io", "--disk-size", "64", "--rounds", "1",
                "--backups", "2", "--dir", dir.resolve("drill").toString());
        DrillOnBed.check(report, "TLS: backup servers, ZooKeeper, peer channel");
        DrillOnBed.check(report, "the cut main node-a fenced itself: its VM stopped without ZooKeeper");
        DrillOnBed.check(report, "the cut main node-a's agent ended fenced (exit 3)");
        DrillOnBed.check(report, "the old main's VM stopped before the new main's VM started");
        DrillOnBed.check(report, "bin/takeover on node-b exits 0");
        DrillOnBed.check(report, "node-c follows the new main node-b");
        DrillOnBed.check(report, "new VM's disk equals the data of");
        DrillOnBed.check(report, "the old main node-a rejoined as a clone and imports the new main's backups");
        // Order, not speed: the old VM stopped before the new one started, and the rejoin came after the takeover.
        double stopped = DrillOnBed.timing(report, "cut -> old VM stopped");
        double started = DrillOnBed.timing(report, "cut -> new VM started");
        assertTrue(stopped < started, "old VM stopped at " + stopped + " s, new VM started at " + started + " s after the cut");
        DrillOnBed.timing(report, "cut -> bin/takeover done");
        DrillOnBed.timing(report, "link back -> old main rejoined and imported a backup of the new main");
    }
}

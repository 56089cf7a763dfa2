package io.resilientkvm.importer.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A clone's steady-state reconcile makes as many ZooKeeper reads with 2,000 published manifests
 * as with 200 (real ZooKeeper, the real importer, reads counted by Curator's tracer); the
 * 20,000 case and the times are in bench/importer/catalog.sh.
 */
class ImporterReconcileCostTest {
    @TempDir
    Path dir;

    @Test
    void aSteadyReconcileReadsTheSameWith2000ManifestsAsWith200() throws Exception {
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true)) {
            ReconcileCost small = ReconcileCost.measure(zk.getConnectString(), "c200", dir, 1, 200);
            ReconcileCost large = ReconcileCost.measure(zk.getConnectString(), "c2000", dir, 10, 200);
            assertEquals(0, small.downloads() + large.downloads(), small + " / " + large);
            assertTrue(large.firstReads() > 2000, "the first round reads the catalog once: " + large);
            // The epoch, the devices, the device's head: nothing depends on the history's length.
            assertEquals(small.steadyReads(), large.steadyReads(), small + " / " + large);
            assertTrue(small.steadyReads() <= 3, String.valueOf(small));
        }
    }
}

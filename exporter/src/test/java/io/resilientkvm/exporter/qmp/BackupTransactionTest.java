package io.resilientkvm.exporter.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.exporter.image.QemuImg;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The job runner on its own: a refused transaction leaves no job, node or bitmap behind. */
class BackupTransactionTest {
    @TempDir
    Path dir;

    @Test
    void aRefusedTransactionIsAFailedOutcomeAndLeavesNothingAttached() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 << 20);
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            BlockDevice device = BlockDiscovery.discover(vm.qmp()).get(0);
            Path wrongSize = dir.resolve("small.qcow2");
            QemuImg.createFull(wrongSize, 32 << 20, device.clusterSize());
            List<JobOutcome> outcomes = new BackupTransaction(vm.qmp(),
                    new BackupTransaction.Options(0, false, Duration.ofMinutes(1)))
                    .run(List.of(new JobSpec(device, false, wrongSize, "qmpbackup-virtio0-x", true)));
            assertEquals(1, outcomes.size());
            assertFalse(outcomes.get(0).ok());
            assertTrue(outcomes.get(0).error().contains("size"), outcomes.get(0).error());
            assertTrue(vm.qmp().execute("query-jobs").isEmpty());
            assertTrue(BlockDiscovery.discover(vm.qmp()).get(0).bitmaps().isEmpty(), "the transaction added no bitmap");
            List<String> nodes = new ArrayList<>();
            vm.qmp().execute("query-named-block-nodes").forEach(n -> nodes.add(n.path("node-name").asText()));
            assertFalse(nodes.stream().anyMatch(n -> n.startsWith(BackupTransaction.TARGET_PREFIX)), nodes.toString());
        }
    }

    @Test
    void targetNodeNamesFitQemusLimit() {
        assertEquals("rkvm-target-virtio0", BackupTransaction.targetNode("virtio0"));
        assertTrue(BackupTransaction.targetNode("a-very-long-device-name-indeed-0123456789").length() <= 31);
        assertEquals("rkvm-backup-a_b", BackupTransaction.jobId("a/b"));
    }
}

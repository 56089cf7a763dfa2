package io.resilientkvm.exporter.progress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.exporter.image.QemuImg;
import io.resilientkvm.exporter.qmp.BackupTransaction;
import io.resilientkvm.exporter.qmp.BlockDevice;
import io.resilientkvm.exporter.qmp.BlockDiscovery;
import io.resilientkvm.exporter.qmp.JobOutcome;
import io.resilientkvm.exporter.qmp.JobProgress;
import io.resilientkvm.exporter.qmp.JobSpec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** query-jobs figures reach the listener while a real job runs; bars render them. */
class ProgressTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void aRunningJobReportsGrowingProgressToTheListener() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 16 * MIB);
        List<JobProgress> seen = new CopyOnWriteArrayList<>();
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x61, 0, 16 * MIB);
            BlockDevice device = BlockDiscovery.discover(vm.qmp()).get(0);
            Path target = dir.resolve("full.qcow2");
            QemuImg.createFull(target, device.virtualSize(), device.clusterSize());
            // 4 MiB/s over 16 MiB: the job runs a few seconds, reported about every second.
            List<JobOutcome> out = new BackupTransaction(vm.qmp(), new BackupTransaction.Options(4 * MIB, false,
                    Duration.ofMinutes(2))).run(List.of(new JobSpec(device, false, target, "unused", false)),
                    BackupTransaction.Hooks.NONE, seen::addAll);
            assertTrue(out.get(0).ok(), out.get(0).error());
            assertEquals(16 * MIB, out.get(0).bytesTransferred());
        }
        assertTrue(seen.size() >= 2, "progress reports: " + seen);
        for (int i = 0; i < seen.size(); i++) {
            JobProgress p = seen.get(i);
            assertEquals("virtio0", p.device());
            assertEquals("rkvm-backup-virtio0", p.jobId());
            assertTrue(p.current() <= p.total() && p.total() > 0, p.toString());
            if (i > 0) {
                assertTrue(p.current() >= seen.get(i - 1).current(), "never backwards: " + seen);
            }
        }
        assertTrue(seen.get(seen.size() - 1).current() > 0, "progress moved: " + seen);
    }

    @Test
    void barsShowEachDiskInMib() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (PrintStream ps = new PrintStream(buf, true, StandardCharsets.UTF_8);
                ProgressBars bars = new ProgressBars(ps)) {
            bars.progress(List.of(new JobProgress("rkvm-backup-virtio0", "virtio0", 10 * MIB, 40 * MIB, "running"),
                    new JobProgress("rkvm-backup-virtio1", "virtio1", 0, 8 * MIB, "running")));
            bars.progress(List.of(new JobProgress("rkvm-backup-virtio0", "virtio0", 30 * MIB, 40 * MIB, "running")));
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("virtio0") && text.contains("virtio1"), text);
        assertTrue(text.contains("30/40 MiB"), text);
    }
}

package io.resilientkvm.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.engine.testing.TestVm.Attach;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Several disks at one point in time (grouped jobs), -drive and -blockdev alike, and device selection. */
class MultiDiskTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void backsUpADriveAndABlockdevDiskTogether() throws Exception {
        Path a = TestVm.blankQcow2(dir.resolve("a.qcow2"), 64 * MIB);
        Path b = TestVm.blankQcow2(dir.resolve("b.qcow2"), 128 * MIB);
        Path target = dir.resolve("backups");
        BackupRequest req = BackupRequest.of(null, target);
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", a, "qcow2", Attach.DRIVE).disk("virtio1", b)
                .running(true).start()) {
            driveWrite(vm, 0x41, 0, MIB);
            vm.write("virtio1", 0x51, 0, MIB);
            BackupResult full = Exporter.backup(req, vm.qmp());
            assertEquals(List.of("virtio0", "virtio1"), full.backups().stream().map(DeviceBackup::device).toList());
            assertTrue(full.backups().stream().allMatch(d -> d.manifest().level() == BackupManifest.Level.FULL));
            // Both jobs started in one transaction: one point in time.
            assertEquals(full.backups().get(0).manifest().startedAt(), full.backups().get(1).manifest().startedAt());

            driveWrite(vm, 0x42, 4 * MIB, MIB);
            vm.write("virtio1", 0x52, 64 * MIB, MIB);
            BackupResult inc = Exporter.backup(req, vm.qmp());
            assertTrue(inc.backups().stream().allMatch(d -> d.manifest().level() == BackupManifest.Level.INC));

            vm.write("virtio1", 0x53, 100 * MIB, MIB);
            BackupResult onlyDisk1 = Exporter.backup(req.withExcluded(List.of("virtio0")), vm.qmp());
            assertEquals(List.of("virtio1"), onlyDisk1.backups().stream().map(DeviceBackup::device).toList());

            BadInputException unknown = assertThrows(BadInputException.class,
                    () -> Exporter.backup(req.withDevices(List.of("nope")), vm.qmp()));
            assertTrue(unknown.getMessage().contains("nope") && unknown.getMessage().contains("virtio0"),
                    unknown.getMessage());
            vm.quit();
            assertTrue(TestVm.sameContent(inc.backups().get(0).file(), a));
            assertTrue(TestVm.sameContent(onlyDisk1.backups().get(0).file(), b));
            assertTrue(TestVm.hasPattern(inc.backups().get(1).file(), 0x52, 64 * MIB, MIB));
            assertTrue(TestVm.hasPattern(inc.backups().get(1).file(), 0x00, 100 * MIB, MIB));
        }
    }

    /** A guest write to the -drive disk: qemu-io addresses its backend by name. */
    private static void driveWrite(TestVm vm, int pattern, long offset, long length) throws Exception {
        String out = vm.qmp().humanMonitorCommand(String.format("qemu-io virtio0 \"write -P 0x%02x %d %d\"",
                pattern, offset, length));
        assertTrue(out.isBlank(), out);
    }

    @Test
    void compressedAndSpeedLimitedBackupsRestoreTheSameData() throws Exception {
        Path a = TestVm.blankQcow2(dir.resolve("a.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        BackupRequest req = BackupRequest.of(null, target).withCompress(true).withSpeed(512L * MIB);
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", a).running(true).start()) {
            vm.write("virtio0", 0x41, 0, 8 * MIB);
            DeviceBackup full = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            vm.write("virtio0", 0x42, 16 * MIB, MIB);
            DeviceBackup inc = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            vm.quit();
            assertTrue(full.manifest().fileSize() < 4 * MIB, "compressed full: " + full.manifest().fileSize());
            assertTrue(TestVm.sameContent(inc.file(), a));
        }
    }
}

package io.resilientkvm.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.exporter.repository.Repository;
import io.resilientkvm.engine.backup.VerifyReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Full then incrementals of a live VM: content, point-in-time patterns, sizes, manifests. */
class ChainBackupTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void fullThenTwoIncrementalsHoldExactlyWhatWasWrittenAtEachPoint() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 256 * MIB);
        Path target = dir.resolve("backups");
        BackupRequest req = BackupRequest.of(null, target).withInstance("vm1");
        DeviceBackup full;
        DeviceBackup inc1;
        DeviceBackup inc2;
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x41, 0, 4 * MIB);
            full = single(Exporter.backup(req, vm.qmp()));
            vm.write("virtio0", 0x42, 8 * MIB, MIB);
            inc1 = single(Exporter.backup(req, vm.qmp()));
            vm.write("virtio0", 0x43, 100 * MIB, MIB);
            vm.write("virtio0", 0x44, 0, MIB);
            inc2 = single(Exporter.backup(req.withLevel(BackupRequest.Level.INC), vm.qmp()));
            vm.quit();
        }
        assertEquals(BackupManifest.Level.FULL, full.manifest().level());
        assertEquals(BackupManifest.Level.INC, inc1.manifest().level());
        assertEquals(BackupManifest.Level.INC, inc2.manifest().level());
        assertEquals(full.manifest().file(), inc1.manifest().parent());
        assertEquals(inc1.manifest().file(), inc2.manifest().parent());
        assertEquals(List.of(0, 1, 2), List.of(full.manifest().sequence(), inc1.manifest().sequence(),
                inc2.manifest().sequence()));
        assertNull(full.manifest().parent());
        assertEquals("qmpbackup-virtio0-" + full.manifest().chainId(), inc2.manifest().bitmap());
        assertEquals("vm1", full.manifest().instance());
        assertEquals(256 * MIB, inc2.manifest().virtualSize());

        // The newest point equals the source disk.
        assertTrue(TestVm.sameContent(inc2.file(), disk));
        // Each point holds exactly what was written up to it.
        assertTrue(TestVm.hasPattern(full.file(), 0x41, 0, 4 * MIB));
        assertTrue(TestVm.hasPattern(full.file(), 0x00, 8 * MIB, MIB));
        assertTrue(TestVm.hasPattern(inc1.file(), 0x41, 0, 4 * MIB));
        assertTrue(TestVm.hasPattern(inc1.file(), 0x42, 8 * MIB, MIB));
        assertTrue(TestVm.hasPattern(inc1.file(), 0x00, 100 * MIB, MIB));
        assertTrue(TestVm.hasPattern(inc2.file(), 0x44, 0, MIB));
        assertTrue(TestVm.hasPattern(inc2.file(), 0x41, MIB, 3 * MIB));
        assertTrue(TestVm.hasPattern(inc2.file(), 0x42, 8 * MIB, MIB));
        assertTrue(TestVm.hasPattern(inc2.file(), 0x43, 100 * MIB, MIB));
        // An incremental grows with the data written, not with the disk.
        assertTrue(Files.size(inc1.file()) < 8 * MIB, "inc1 is " + Files.size(inc1.file()) + " bytes");
        assertTrue(Files.size(inc2.file()) < 8 * MIB, "inc2 is " + Files.size(inc2.file()) + " bytes");

        // Layout, manifests and the verify pass.
        Repository repo = new Repository(target);
        assertEquals(List.of("virtio0"), repo.devices());
        Chain chain = repo.newestChain("virtio0").orElseThrow();
        assertEquals(3, chain.backups().size());
        assertEquals(target.resolve("virtio0").resolve(full.manifest().chainId()), chain.dir());
        assertTrue(full.file().getFileName().toString().startsWith("FULL-"));
        assertTrue(inc1.file().getFileName().toString().startsWith("INC-"));
        assertEquals(inc2.manifest(), BackupManifest.read(BackupManifest.manifestPath(inc2.file())));
        assertEquals(Files.size(inc2.file()), inc2.manifest().fileSize());
        VerifyReport report = ChainVerifier.verify(chain);
        assertTrue(report.ok(), "verify: " + report.problems());
        try (var files = Files.list(chain.dir())) {
            assertFalse(files.anyMatch(f -> f.toString().endsWith(".partial") || f.toString().endsWith(".tmp")));
        }
    }

    static DeviceBackup single(BackupResult r) {
        assertEquals(1, r.backups().size(), "backups: " + r.backups());
        return r.backups().get(0);
    }
}

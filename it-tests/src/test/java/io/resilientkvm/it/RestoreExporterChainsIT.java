package io.resilientkvm.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.cli.restore.RestoreCommand;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.DeviceBackup;
import io.resilientkvm.exporter.Exporter;
import io.resilientkvm.importer.restore.RestoreRequest;
import io.resilientkvm.importer.restore.RestoreRequest.Format;
import io.resilientkvm.importer.restore.RestoreResult;
import io.resilientkvm.importer.restore.Restorer;
import io.resilientkvm.importer.retention.PruneResult;
import io.resilientkvm.importer.retention.Pruner;
import io.resilientkvm.importer.retention.RetentionPolicy;
import io.resilientkvm.importer.testing.TestRepository;
import io.resilientkvm.engine.params.RetentionAge;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restore from chains the real exporter made of a running QEMU: every point equals the disk
 * as it was at that backup (the same writes replayed on a raw reference with qemu-io), in both
 * formats, as an instant overlay and through bin/restore; then retention removes the old chain.
 */
class RestoreExporterChainsIT {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    record Point(DeviceBackup backup, Path reference) {
        String name() {
            return backup.manifest().chainId() + "/" + backup.manifest().file();
        }
    }

    @Test
    void everyPointTheExporterMadeRestoresToTheDiskAsItWasThen() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path reference = dir.resolve("reference.raw");
        TestRepository.run(List.of("qemu-img", "create", "-q", "-f", "raw", reference.toString(), Long.toString(64 * MIB)));
        Path repo = dir.resolve("backups");
        BackupRequest req = BackupRequest.of(null, repo).withInstance("vm1");
        List<Point> points = new ArrayList<>();
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            int[][] steps = {
                {0x41, 0, 8}, {0x42, 4, 2}, {0x43, 40, 1}, {0x44, 0, 1}, {0x45, 60, 4},
            };
            BackupRequest.Level[] levels = {BackupRequest.Level.FULL, BackupRequest.Level.INC, BackupRequest.Level.INC,
                BackupRequest.Level.FULL, BackupRequest.Level.INC};
            for (int i = 0; i < steps.length; i++) {
                int pattern = steps[i][0];
                long offset = steps[i][1] * MIB;
                long length = steps[i][2] * MIB;
                vm.write("virtio0", pattern, offset, length);
                TestRepository.run(List.of("qemu-io", "-f", "raw", "-c",
                        "write -P " + pattern + " " + offset + " " + length, reference.toString()));
                DeviceBackup b = Exporter.backup(req.withLevel(levels[i]), vm.qmp()).backups().get(0);
                Path ref = dir.resolve("ref-" + i + ".raw");
                TestRepository.run(List.of("cp", "--sparse=always", reference.toString(), ref.toString()));
                points.add(new Point(b, ref));
            }
            vm.quit();
        }
        assertEquals(2, Files.list(repo.resolve("virtio0")).filter(Files::isDirectory)
                .filter(p -> !p.getFileName().toString().startsWith(".")).count(), "two chains");

        Restorer restorer = new Restorer(repo);
        Path out = Files.createDirectories(dir.resolve("out"));
        for (int i = 0; i < points.size(); i++) {
            Point p = points.get(i);
            for (Format format : Format.values()) {
                Path image = out.resolve("p" + i + "." + format.qemuName());
                RestoreResult r = restorer.materialize(RestoreRequest.to(image).withUntil(p.name()).withFormat(format));
                assertEquals(p.name(), r.point().name());
                assertTrue(TestRepository.sameData(image, p.reference()), p.name() + " as " + format);
            }
            Path overlay = out.resolve("overlay-" + i + ".qcow2");
            RestoreResult instant = restorer.instant(RestoreRequest.to(overlay).withUntil(p.name()));
            System.out.printf("instant restore of %s: %.1f ms%n", p.name(), instant.seconds() * 1000);
            assertTrue(TestRepository.sameData(overlay, p.reference()), "overlay at " + p.name());
            Files.delete(overlay);
            restorer.release(overlay.toString(), false);
        }

        // bin/restore at the newest point (the default), exit 0.
        Path cliImage = out.resolve("cli.qcow2");
        StringWriter o = new StringWriter();
        StringWriter e = new StringWriter();
        int code = CommandRunner.run(new RestoreCommand(), new PrintWriter(o), new PrintWriter(e), "--repository",
                repo.toString(), "--output", cliImage.toString());
        assertEquals(0, code, e.toString());
        assertTrue(TestRepository.sameData(cliImage, points.get(4).reference()));

        // A month later, with 2W and keep-last 1: the first chain goes whole, the second stays restorable.
        Clock later = Clock.fixed(Instant.now().plus(Duration.ofDays(30)), ZoneOffset.UTC);
        PruneResult pruned = new Pruner(repo, new RetentionPolicy(RetentionAge.parse("2W"), 1, 0, 0, 0), later)
                .prune("virtio0");
        assertEquals(List.of(points.get(0).backup().manifest().chainId()), pruned.removed());
        assertEquals(2, restorer.points("virtio0").size());
        Path after = out.resolve("after.qcow2");
        restorer.materialize(RestoreRequest.to(after).withUntil(points.get(3).name()));
        assertTrue(TestRepository.sameData(after, points.get(3).reference()));
    }
}

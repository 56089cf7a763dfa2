package io.resilientkvm.exporter;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.exporter.lock.ExporterLock;
import io.resilientkvm.exporter.qmp.BlockDevice;
import io.resilientkvm.exporter.qmp.BlockDiscovery;
import io.resilientkvm.exporter.repository.Repository;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Removing bitmaps on the running VM closes their chains; refused while a job or an exporter runs. */
class BitmapRemovalTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void removingTheChainsBitmapClosesTheChainAndTheNextBackupIsAFull() throws Exception {
        Path a = TestVm.blankQcow2(dir.resolve("a.qcow2"), 32 * MIB);
        Path b = TestVm.blankQcow2(dir.resolve("b.qcow2"), 32 * MIB);
        Path target = dir.resolve("backups");
        BackupRequest req = BackupRequest.of(null, target);
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", a).disk("virtio1", b).running(true).start()) {
            BackupResult first = Exporter.backup(req, vm.qmp());
            String bitmap0 = first.backups().get(0).manifest().bitmap();
            String bitmap1 = first.backups().get(1).manifest().bitmap();
            BlockDevice d0 = BlockDiscovery.discover(vm.qmp()).get(0);
            assertTrue(d0.bitmap(bitmap0).orElseThrow().recording());
            assertTrue(d0.bitmap(bitmap0).orElseThrow().persistent());
            assertEquals(64 * 1024, d0.bitmap(bitmap0).orElseThrow().granularity());

            BadInputException unknown = assertThrows(BadInputException.class,
                    () -> Exporter.removeBitmaps(target, vm.qmp(), List.of(), List.of("qmpbackup-nope")));
            assertTrue(unknown.getMessage().contains("qmpbackup-nope"), unknown.getMessage());

            assertEquals(List.of("virtio0/" + bitmap0), Exporter.removeBitmaps(target, vm.qmp(), List.of(),
                    List.of(bitmap0)));
            List<BlockDevice> now = BlockDiscovery.discover(vm.qmp());
            assertTrue(now.get(0).bitmaps().isEmpty(), "virtio0 bitmaps: " + now.get(0).bitmaps());
            assertTrue(now.get(1).bitmap(bitmap1).isPresent(), "virtio1 keeps its bitmap");
            Repository repo = new Repository(target);
            Chain closed = repo.newestChain("virtio0").orElseThrow();
            assertFalse(closed.isOpen());
            assertTrue(closed.closedReason().contains(bitmap0), closed.closedReason());
            assertTrue(repo.newestChain("virtio1").orElseThrow().isOpen());

            vm.write("virtio0", 0x51, 0, MIB);
            BackupResult second = Exporter.backup(req, vm.qmp());
            assertEquals(BackupManifest.Level.FULL, second.backups().get(0).manifest().level());
            assertEquals(BackupManifest.Level.INC, second.backups().get(1).manifest().level());

            // All qmpbackup bitmaps of one disk.
            List<String> removed = Exporter.removeBitmaps(target, vm.qmp(), List.of("virtio1"), List.of());
            assertEquals(List.of("virtio1/" + bitmap1), removed);
            assertFalse(repo.newestChain("virtio1").orElseThrow().isOpen());
            vm.quit();
        }
    }

    @Test
    void refusedWhileABlockJobRunsOrAnExporterHoldsTheLock() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 32 * MIB);
        Path target = dir.resolve("backups");
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            String bitmap = ChainBackupTest.single(Exporter.backup(BackupRequest.of(null, target), vm.qmp()))
                    .manifest().bitmap();
            try (ExporterLock held = ExporterLock.acquire(target)) {
                RefusedException e = assertThrows(RefusedException.class,
                        () -> Exporter.removeBitmaps(target, vm.qmp(), List.of(), List.of(bitmap)));
                assertTrue(e.getMessage().contains("another exporter"), e.getMessage());
            }
            vm.qmp().execute("drive-backup", JsonNodeFactory.instance.objectNode().put("job-id", "slow")
                    .put("device", "virtio0-fmt").put("target", dir.resolve("scratch.qcow2").toString())
                    .put("format", "qcow2").put("sync", "full").put("speed", 1));
            RefusedException e = assertThrows(RefusedException.class,
                    () -> Exporter.removeBitmaps(target, vm.qmp(), List.of(), List.of(bitmap)));
            assertTrue(e.getMessage().contains("slow"), e.getMessage());
            // While the job runs its filter node tops the disk; look once it is gone.
            vm.qmp().execute("job-cancel", JsonNodeFactory.instance.objectNode().put("id", "slow"));
            await().atMost(Duration.ofSeconds(30)).until(() -> vm.qmp().execute("query-jobs").isEmpty());
            assertTrue(BlockDiscovery.discover(vm.qmp()).get(0).bitmap(bitmap).isPresent(), "bitmap kept");
            assertTrue(new Repository(target).newestChain("virtio0").orElseThrow().isOpen(), "chain kept open");
        }
    }
}

package io.resilientkvm.exporter;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.exporter.qmp.BlockDevice;
import io.resilientkvm.exporter.qmp.BlockDiscovery;
import io.resilientkvm.exporter.qmp.DirtyBitmap;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.exporter.repository.Repository;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Crashes, cancellations and leftovers: the next backup heals and loses nothing. */
class RecoveryTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void inconsistentBitmapAfterSigkillStartsANewChainByItself() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        BackupRequest req = BackupRequest.of(null, target);
        DeviceBackup first;
        try (TestVm vm = TestVm.builder(dir).name("a").disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x41, 0, MIB);
            first = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            vm.quit(); // stores the persistent bitmap in the image
        }
        try (TestVm vm = TestVm.builder(dir).name("b").disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x42, 2 * MIB, MIB);
            vm.kill(); // the bitmap loaded from the image stays flagged in-use
        }
        try (TestVm vm = TestVm.builder(dir).name("c").disk("virtio0", disk).running(true).start()) {
            DirtyBitmap bm = device(vm.qmp()).bitmap(first.manifest().bitmap()).orElseThrow();
            assertTrue(bm.inconsistent(), "bitmap after SIGKILL: " + bm);

            RefusedException refused = assertThrows(RefusedException.class,
                    () -> Exporter.backup(req.withLevel(BackupRequest.Level.INC), vm.qmp()));
            assertTrue(refused.getMessage().contains("inconsistent"), refused.getMessage());

            vm.write("virtio0", 0x43, 4 * MIB, MIB);
            DeviceBackup healed = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            assertEquals(BackupManifest.Level.FULL, healed.manifest().level());
            assertNotEquals(first.manifest().chainId(), healed.manifest().chainId());
            BlockDevice after = device(vm.qmp());
            assertTrue(after.bitmap(first.manifest().bitmap()).isEmpty(), "old bitmap removed: " + after.bitmaps());
            assertFalse(after.bitmap(healed.manifest().bitmap()).orElseThrow().inconsistent());

            vm.write("virtio0", 0x44, 6 * MIB, MIB);
            DeviceBackup inc = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            assertEquals(BackupManifest.Level.INC, inc.manifest().level());
            assertEquals(healed.manifest().chainId(), inc.manifest().chainId());
            vm.quit();
            assertTrue(TestVm.sameContent(inc.file(), disk));
        }
        Repository repo = new Repository(target);
        assertEquals(2, repo.chains("virtio0").size());
        for (Chain c : repo.chains("virtio0")) {
            assertTrue(ChainVerifier.verify(c).ok(), c + ": " + ChainVerifier.verify(c).problems());
        }
    }

    @Test
    void aCleanRestartKeepsTheBitmapAndTheChainGoesOn() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        BackupRequest req = BackupRequest.of(null, target);
        DeviceBackup full;
        try (TestVm vm = TestVm.builder(dir).name("a").disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x41, 0, MIB);
            full = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            vm.write("virtio0", 0x42, 2 * MIB, MIB); // written before the shutdown: the bitmap keeps it
            vm.quit();
        }
        try (TestVm vm = TestVm.builder(dir).name("b").disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x43, 4 * MIB, MIB);
            DeviceBackup inc = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            assertEquals(BackupManifest.Level.INC, inc.manifest().level());
            assertEquals(full.manifest().chainId(), inc.manifest().chainId());
            vm.quit();
            assertTrue(TestVm.hasPattern(inc.file(), 0x42, 2 * MIB, MIB));
            assertTrue(TestVm.sameContent(inc.file(), disk));
        }
    }

    @Test
    void cancelledIncrementalLeavesNothingAndTheRetryCapturesEverything() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        BackupRequest req = BackupRequest.of(null, target);
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x41, 0, MIB);
            DeviceBackup full = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            vm.write("virtio0", 0x42, 8 * MIB, 8 * MIB);

            // A slow incremental, cancelled from outside while it runs.
            CompletableFuture<BackupResult> slow = CompletableFuture.supplyAsync(() -> {
                try {
                    return Exporter.backup(req.withSpeed(256 * 1024), vm.qmp());
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });
            await().atMost(Duration.ofSeconds(30)).until(() -> runningJob(vm.qmp()).isPresent());
            vm.qmp().execute("job-cancel", JsonNodeFactory.instance.objectNode().put("id", runningJob(vm.qmp()).get()));
            CompletionException failed = assertThrows(CompletionException.class, slow::join);
            assertTrue(failed.getCause() instanceof OperationFailedException, String.valueOf(failed.getCause()));

            Chain chain = new Repository(target).newestChain("virtio0").orElseThrow();
            assertEquals(1, chain.backups().size());
            try (var files = Files.list(chain.dir())) {
                assertEquals(2, files.count(), "only the full and its manifest remain");
            }
            assertTrue(vm.qmp().execute("query-jobs").isEmpty());
            assertFalse(nodeNames(vm.qmp()).stream().anyMatch(n -> n.startsWith("rkvm-target-")));

            vm.write("virtio0", 0x43, 20 * MIB, MIB);
            DeviceBackup retry = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            assertEquals(BackupManifest.Level.INC, retry.manifest().level());
            assertEquals(full.manifest().file(), retry.manifest().parent());
            vm.quit();
            assertTrue(TestVm.hasPattern(retry.file(), 0x42, 8 * MIB, 8 * MIB));
            assertTrue(TestVm.hasPattern(retry.file(), 0x43, 20 * MIB, MIB));
            assertTrue(TestVm.sameContent(retry.file(), disk));
        }
    }

    @Test
    void cancelledFullLeavesNoFileAndNoBitmap() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x41, 0, 16 * MIB);
            CompletableFuture<BackupResult> slow = CompletableFuture.supplyAsync(() -> {
                try {
                    return Exporter.backup(BackupRequest.of(null, target).withSpeed(256 * 1024), vm.qmp());
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });
            await().atMost(Duration.ofSeconds(30)).until(() -> runningJob(vm.qmp()).isPresent());
            vm.qmp().execute("job-cancel", JsonNodeFactory.instance.objectNode().put("id", runningJob(vm.qmp()).get()));
            assertThrows(CompletionException.class, slow::join);
            assertTrue(device(vm.qmp()).bitmaps().isEmpty(), "bitmaps: " + device(vm.qmp()).bitmaps());
            assertTrue(new Repository(target).chains("virtio0").isEmpty());

            DeviceBackup full = ChainBackupTest.single(Exporter.backup(BackupRequest.of(null, target), vm.qmp()));
            assertEquals(BackupManifest.Level.FULL, full.manifest().level());
            vm.quit();
            assertTrue(TestVm.sameContent(full.file(), disk));
        }
    }

    @Test
    void jobTimeoutCancelsTheJobAndReportsIt() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x41, 0, 16 * MIB);
            OperationFailedException e = assertThrows(OperationFailedException.class, () -> Exporter.backup(
                    BackupRequest.of(null, target).withSpeed(64 * 1024).withJobTimeout(Duration.ofSeconds(1)),
                    vm.qmp()));
            assertTrue(e.getMessage().contains("timed out"), e.getMessage());
            assertTrue(vm.qmp().execute("query-jobs").isEmpty());
            assertTrue(new Repository(target).chains("virtio0").isEmpty());
        }
    }

    @Test
    void staleLeftoversOfACrashedRunAreCleanedAndTheChainRestarts() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        BackupRequest req = BackupRequest.of(null, target);
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x41, 0, MIB);
            DeviceBackup full = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            // What a crash mid-incremental leaves: a partial file and an attached target node.
            Path partial = full.file().resolveSibling("INC-20991231T000000.000Z.qcow2.partial");
            TestVm.blankQcow2(partial, 64 * MIB);
            ObjectNode add = JsonNodeFactory.instance.objectNode().put("driver", "qcow2")
                    .put("node-name", "rkvm-target-virtio0");
            add.putObject("file").put("driver", "file").put("filename", partial.toString());
            add.putNull("backing");
            vm.qmp().execute("blockdev-add", add);

            vm.write("virtio0", 0x42, 2 * MIB, MIB);
            DeviceBackup next = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            assertFalse(Files.exists(partial));
            assertFalse(nodeNames(vm.qmp()).stream().anyMatch(n -> n.startsWith("rkvm-target-")));
            // The crashed job may have cleared bits: the old chain is closed, a new one starts.
            assertEquals(BackupManifest.Level.FULL, next.manifest().level());
            assertNotEquals(full.manifest().chainId(), next.manifest().chainId());
            Chain old = new Repository(target).chains("virtio0").get(0);
            assertFalse(old.isOpen());
            assertEquals(1, old.backups().size());
            vm.quit();
            assertTrue(TestVm.sameContent(next.file(), disk));
        }
    }

    static Optional<String> runningJob(QmpClient qmp) throws Exception {
        for (JsonNode j : qmp.execute("query-jobs")) {
            if ("running".equals(j.path("status").asText())) {
                return Optional.of(j.path("id").asText());
            }
        }
        return Optional.empty();
    }

    static List<String> nodeNames(QmpClient qmp) throws Exception {
        List<String> names = new java.util.ArrayList<>();
        qmp.execute("query-named-block-nodes").forEach(n -> names.add(n.path("node-name").asText()));
        return names;
    }

    static BlockDevice device(QmpClient qmp) throws Exception {
        return BlockDiscovery.discover(qmp).get(0);
    }
}

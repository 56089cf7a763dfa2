package io.resilientkvm.exporter;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.backup.VerifyReport;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.exporter.repository.Repository;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The faults of issue 3 with a real QEMU: the target's file system fills up, the exporter is
 * SIGKILLed mid-job, QEMU is SIGKILLed mid-job. Each leaves the existing chain intact and
 * verifiable, no partial file, and the next run succeeds and captures everything.
 */
class FaultTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private Path mounted;

    @AfterEach
    void unmount() throws Exception {
        if (mounted != null) {
            run("umount", mounted.toString());
        }
    }

    @Test
    void aFullTargetFailsCleanlyKeepsTheChainAndTheNextRunSucceedsOnceThereIsSpace() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")),
                "mounting a small tmpfs for the repository needs root (CI runs the tests as root)");
        Path small = Files.createDirectories(dir.resolve("small"));
        run("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", small.toString());
        mounted = small;
        Path target = small.resolve("backups");
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        BackupRequest req = BackupRequest.of(null, target);
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x41, 0, 2 * MIB);
            DeviceBackup full = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            vm.write("virtio0", 0x42, 4 * MIB, MIB);
            DeviceBackup inc = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            assertEquals(Level.INC, inc.manifest().level());

            // 40 MiB of random data more (43 MiB in all): more than the 24 MiB that fit.
            Path random = dir.resolve("random.bin");
            byte[] bytes = new byte[(int) (40 * MIB)];
            new Random(7).nextBytes(bytes);
            Files.write(random, bytes);
            vm.writeFrom("virtio0", random, 8 * MIB, 40 * MIB);
            OperationFailedException fullFails = assertThrows(OperationFailedException.class,
                    () -> Exporter.backup(req.withLevel(BackupRequest.Level.FULL), vm.qmp()));
            assertTrue(fullFails.getMessage().contains("No space left on device"), fullFails.getMessage());
            assertTrue(fullFails.getMessage().contains(target.toString()), fullFails.getMessage());
            assertTrue(fullFails.getMessage().contains("free space"), fullFails.getMessage());
            assertEquals(1, fullFails.exitStatus().code());
            assertChainIntact(target, full.manifest().chainId(), 2);

            // The incremental of the same 40 MiB does not fit either; its bitmap keeps its bits.
            OperationFailedException incFails = assertThrows(OperationFailedException.class,
                    () -> Exporter.backup(req, vm.qmp()));
            assertTrue(incFails.getMessage().contains("No space left on device"), incFails.getMessage());
            assertChainIntact(target, full.manifest().chainId(), 2);

            run("mount", "-o", "remount,size=256m", small.toString());
            DeviceBackup next = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            assertEquals(Level.INC, next.manifest().level());
            assertEquals(full.manifest().chainId(), next.manifest().chainId());
            assertChainIntact(target, full.manifest().chainId(), 3);
            vm.qmp().execute("stop");
            assertTrue(TestVm.sameContent(next.file(), disk));
        }
    }

    @Test
    void anExporterKilledMidJobLeavesTheChainIntactAndTheNextRunCleansUpAndCapturesEverything() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        BackupRequest req = BackupRequest.of(null, target);
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).secondQmp().running(true).start()) {
            vm.write("virtio0", 0x41, 0, MIB);
            DeviceBackup full = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            vm.write("virtio0", 0x42, 8 * MIB, 16 * MIB);

            Path log = dir.resolve("exporter-process.log");
            Process exporter = ExporterProcess.start(vm.secondQmpSocket(), target, 256 * 1024, log);
            try {
                await().atMost(Duration.ofSeconds(60)).until(() -> RecoveryTest.runningJob(vm.qmp()).isPresent()
                        || !exporter.isAlive());
                assertTrue(exporter.isAlive(), () -> "the exporter process ended early: " + read(log));
                exporter.destroyForcibly(); // SIGKILL: no cleanup of any kind runs
                assertTrue(exporter.waitFor(30, TimeUnit.SECONDS));
                assertEquals(137, exporter.exitValue());
            } finally {
                exporter.destroyForcibly();
            }
            // What the kill left: a partial file, and in QEMU the job and its target node.
            assertEquals(1, partials(target).size(), "partials: " + partials(target));
            assertTrue(RecoveryTest.nodeNames(vm.qmp()).stream().anyMatch(n -> n.startsWith("rkvm-target-")));
            verifiedChain(target, full.manifest().chainId(), 1);

            vm.write("virtio0", 0x43, 30 * MIB, MIB);
            DeviceBackup next = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            assertEquals(List.of(), partials(target));
            assertTrue(vm.qmp().execute("query-jobs").isEmpty());
            assertFalse(RecoveryTest.nodeNames(vm.qmp()).stream().anyMatch(n -> n.startsWith("rkvm-target-")));
            // The killed job may have cleared bits: its chain is closed and a new one starts.
            assertEquals(Level.FULL, next.manifest().level());
            assertNotEquals(full.manifest().chainId(), next.manifest().chainId());
            Chain old = assertChainIntact(target, full.manifest().chainId(), 1);
            assertFalse(old.isOpen());
            assertChainIntact(target, next.manifest().chainId(), 1);
            vm.qmp().execute("stop");
            assertTrue(TestVm.hasPattern(next.file(), 0x42, 8 * MIB, 16 * MIB));
            assertTrue(TestVm.sameContent(next.file(), disk));
        }
    }

    @Test
    void qemuKilledMidJobFailsCleanlyAndTheRestartedVmGetsANewChain() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        BackupRequest req = BackupRequest.of(null, target);
        DeviceBackup full;
        try (TestVm vm = TestVm.builder(dir).name("a").disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x41, 0, MIB);
            full = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            vm.quit(); // stores the persistent bitmap in the image
        }
        try (TestVm vm = TestVm.builder(dir).name("b").disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x42, 8 * MIB, 16 * MIB);
            CompletableFuture<BackupResult> slow = CompletableFuture.supplyAsync(() -> {
                try {
                    return Exporter.backup(req.withSpeed(256 * 1024), vm.qmp());
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            });
            await().atMost(Duration.ofSeconds(60)).until(() -> RecoveryTest.runningJob(vm.qmp()).isPresent());
            vm.kill();
            ExecutionException failed = assertThrows(ExecutionException.class, () -> slow.get(60, TimeUnit.SECONDS));
            assertTrue(failed.getCause() instanceof OperationFailedException, String.valueOf(failed.getCause()));
            String message = failed.getCause().getMessage();
            assertEquals(1, ((OperationFailedException) failed.getCause()).exitStatus().code());
            assertTrue(message.contains("QEMU") && message.contains("virtio0"), message);
        }
        assertEquals(List.of(), partials(target));
        Chain cut = assertChainIntact(target, full.manifest().chainId(), 1);
        // The cut-off incremental may have cleared bits before QMP broke off: the chain is closed.
        assertFalse(cut.isOpen());
        assertTrue(cut.closedReason().contains("cut off"), cut.closedReason());

        try (TestVm vm = TestVm.builder(dir).name("c").disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x43, 30 * MIB, MIB);
            DeviceBackup next = ChainBackupTest.single(Exporter.backup(req, vm.qmp()));
            assertEquals(Level.FULL, next.manifest().level());
            assertNotEquals(full.manifest().chainId(), next.manifest().chainId());
            assertChainIntact(target, full.manifest().chainId(), 1);
            assertChainIntact(target, next.manifest().chainId(), 1);
            vm.qmp().execute("stop");
            // Writes of the killed QEMU that it never flushed are gone from the disk (as after a
            // power loss); the new full holds the disk as it is now, writes of this run included.
            assertTrue(TestVm.hasPattern(next.file(), 0x43, 30 * MIB, MIB));
            assertTrue(TestVm.sameContent(next.file(), disk));
        }
    }

    @Test
    void aDeviceIdHoldingDotDotIsRefusedBeforeAnythingIsWritten() throws Exception {
        // QEMU ids may hold "..": harmless inside one name, but names with ".." never become paths here.
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 16 * MIB);
        Path target = dir.resolve("backups");
        try (TestVm vm = TestVm.builder(dir).disk("d..1", disk).running(true).start()) {
            BadInputException e = assertThrows(BadInputException.class,
                    () -> Exporter.backup(BackupRequest.of(null, target), vm.qmp()));
            assertTrue(e.getMessage().contains("device 'd..1' cannot name a repository folder"), e.getMessage());
            assertTrue(vm.qmp().execute("query-jobs").isEmpty());
            assertEquals(List.of(), new Repository(target).devices());
        }
    }

    /** The chain has exactly {@code backups} complete backups, verifies clean, and no partial lies around. */
    private static Chain assertChainIntact(Path target, String chainId, int backups) throws Exception {
        assertEquals(List.of(), partials(target));
        return verifiedChain(target, chainId, backups);
    }

    /** The chain has exactly {@code backups} complete backups and verifies clean. */
    private static Chain verifiedChain(Path target, String chainId, int backups) throws Exception {
        Chain chain = new Repository(target).chains("virtio0").stream().filter(c -> c.chainId().equals(chainId))
                .findFirst().orElseThrow(() -> new AssertionError("chain " + chainId + " is gone"));
        assertEquals(backups, chain.backups().size(), chain.backups().toString());
        VerifyReport report = ChainVerifier.verify(chain);
        assertTrue(report.ok(), report.problems().toString());
        return chain;
    }

    /** Partial files and backup files without a manifest: what must never stay after a run. */
    static List<Path> partials(Path target) throws IOException {
        if (!Files.exists(target)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(target)) {
            return s.filter(f -> {
                String n = f.getFileName().toString();
                return n.endsWith(BackupRepository.PARTIAL) || n.endsWith(".tmp")
                        || n.endsWith(".qcow2") && !Files.exists(f.resolveSibling(n + ".json"));
            }).toList();
        }
    }

    static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }

    /** Runs a command to its end (30 s at most); it must exit 0. */
    static void run(String... argv) throws Exception {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), String.join(" ", argv) + " timed out");
        assertEquals(0, p.exitValue(), String.join(" ", argv) + ": " + out);
    }
}

package io.resilientkvm.exporter;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.backup.VerifyReport;
import io.resilientkvm.engine.lifecycle.PausePoint;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.exporter.quiesce.FakeGuestAgent;
import io.resilientkvm.exporter.repository.Repository;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGKILL of the exporter (a JVM of its own, as {@code bin/exporter}) at each point of a two-disk
 * incremental, then ONE plain run: it must succeed, leave nothing of the killed run in QEMU or
 * the repository, and a restore of each disk must equal a reference copy of the disk taken with
 * the VM paused, with every pattern written checked byte for byte.
 *
 * <p>{@code virtio0} is small and gets a small delta, {@code virtio1} is large and gets a large
 * one: with a speed limit the small job finishes first and waits for its group.
 */
class CrashPointsTest {
    private static final long MIB = 1 << 20;
    private static final String SMALL = "virtio0";
    private static final String LARGE = "virtio1";
    private static final long SLOW = MIB; // bytes/s per job
    private static final Duration POINT_WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private TestVm vm;
    private Path target;
    private BackupRequest req;
    private BackupResult full;
    /** Every pattern written so far, per disk: {pattern, offset, length}. */
    private final Map<String, List<long[]>> written = new LinkedHashMap<>();

    @BeforeEach
    void fullBackupOfTwoDisks() throws Exception {
        Path small = TestVm.blankQcow2(dir.resolve("small.qcow2"), 16 * MIB);
        Path large = TestVm.blankQcow2(dir.resolve("large.qcow2"), 64 * MIB);
        target = dir.resolve("backups");
        req = BackupRequest.of(null, target);
        vm = TestVm.builder(dir).disk(SMALL, small).disk(LARGE, large).secondQmp().running(true).start();
        write(SMALL, 0x41, 0, MIB);
        write(LARGE, 0x51, 0, MIB);
        full = Exporter.backup(req, vm.qmp());
        assertEquals(List.of(Level.FULL, Level.FULL), levels(full));
    }

    @AfterEach
    void stopVm() {
        if (vm != null) {
            vm.close();
        }
    }

    @Test
    void killedBeforeTheTransaction() throws Exception {
        write(SMALL, 0x42, 4 * MIB, 256 * 1024);
        write(LARGE, 0x52, 8 * MIB, 4 * MIB);
        Path agentSocket = dir.resolve("qga.sock");
        try (FakeGuestAgent agent = new FakeGuestAgent(agentSocket)) {
            // A guest slow to freeze holds the exporter just before the transaction: the
            // targets are created and attached, no job has started.
            agent.freeze(FakeGuestAgent.Freeze.SILENT);
            Path log = dir.resolve("killed.log");
            Process exporter = ExporterProcess.start(vm.secondQmpSocket(), target, 0, log, List.of(),
                    List.of(agentSocket.toString()));
            killAt(exporter, log, () -> agent.commands().contains("guest-fsfreeze-freeze"));
        }
        assertEquals(Map.of(), jobs(vm.qmp()));
        assertEquals(2, targetNodes(vm.qmp()).size(), targetNodes(vm.qmp()).toString());
        assertEquals(2, FaultTest.partials(target).size(), FaultTest.partials(target).toString());

        BackupResult next = plainRun();
        // The killed run left partial files: their chains are closed, both disks start anew.
        assertEquals(List.of(Level.FULL, Level.FULL), levels(next));
        assertRestoresEqualTheDisks(next);
    }

    @Test
    void killedWhileBothJobsRun() throws Exception {
        killWhenTheJobsAre(4 * MIB, "running", "running");
    }

    @Test
    void killedWhileTheSmallJobWaitsForTheGroup() throws Exception {
        // The case: the retry found virtio1 running and virtio0 waiting, cancelled one
        // and was refused the other (it had concluded in between).
        killWhenTheJobsAre(256 * 1024, "waiting", "running");
    }

    /**
     * A small delta of {@code smallDelta} bytes and a large one, the exporter SIGKILLed once the
     * jobs show these states; then one plain run, fulls of both (the partials closed the chains).
     */
    private void killWhenTheJobsAre(long smallDelta, String small, String large) throws Exception {
        write(SMALL, 0x42, 4 * MIB, smallDelta);
        write(LARGE, 0x52, 8 * MIB, 16 * MIB);
        Path log = dir.resolve("killed.log");
        Process exporter = ExporterProcess.start(vm.secondQmpSocket(), target, SLOW, log);
        Map<String, String> states = Map.of(job(SMALL), small, job(LARGE), large);
        killAt(exporter, log, () -> states.equals(jobs(vm.qmp())));
        assertEquals(states, jobs(vm.qmp()));

        BackupResult next = plainRun();
        assertEquals(List.of(Level.FULL, Level.FULL), levels(next));
        assertRestoresEqualTheDisks(next);
    }

    @Test
    void killedMidJobWhoseJobsConcludeBeforeTheRetry() throws Exception {
        write(SMALL, 0x42, 4 * MIB, 256 * 1024);
        write(LARGE, 0x52, 8 * MIB, 2 * MIB);
        Path log = dir.resolve("killed.log");
        Process exporter = ExporterProcess.start(vm.secondQmpSocket(), target, SLOW, log);
        killAt(exporter, log, () -> "running".equals(jobs(vm.qmp()).get(job(LARGE))));
        // Nobody listens any more: QEMU finishes both jobs and keeps them (auto-dismiss off).
        await().atMost(POINT_WAIT).until(() -> Map.of(job(SMALL), "concluded", job(LARGE), "concluded")
                .equals(jobs(vm.qmp())));

        BackupResult next = plainRun();
        // The concluded jobs cleared their bitmaps' bits into files that were never published:
        // both chains end, the new fulls hold those writes.
        assertEquals(List.of(Level.FULL, Level.FULL), levels(next));
        assertRestoresEqualTheDisks(next);
    }

    @Test
    void killedDuringPublicationOfTheSecondDisk() throws Exception {
        write(SMALL, 0x42, 4 * MIB, 256 * 1024);
        write(LARGE, 0x52, 8 * MIB, 4 * MIB);
        Path log = dir.resolve("killed.log");
        Process exporter = ExporterProcess.start(vm.secondQmpSocket(), target, 0, log,
                List.of("-D" + PausePoint.PROPERTY + "=" + PausePoint.BEFORE_MANIFEST + ":" + LARGE), List.of());
        killAt(exporter, log, () -> FaultTest.read(log).contains("Paused at before-manifest of " + LARGE)
                && incManifests(SMALL) == 1);
        assertEquals(Map.of(), jobs(vm.qmp()));
        assertEquals(List.of(), targetNodes(vm.qmp()));
        // virtio1's file is synced and renamed but has no manifest: not a backup.
        assertEquals(1, FaultTest.partials(target).size(), FaultTest.partials(target).toString());

        BackupResult next = plainRun();
        // virtio0's incremental was published before the kill: its chain goes on. virtio1's
        // job had cleared its bits into an unpublished file: its chain ends, a full follows.
        assertEquals(List.of(Level.INC, Level.FULL), levels(next));
        BackupManifest inc = next.backups().get(0).manifest();
        assertEquals(full.backups().get(0).manifest().chainId(), inc.chainId());
        assertEquals(2, inc.sequence());
        assertRestoresEqualTheDisks(next);
    }

    /** Waits for the point, SIGKILLs the exporter there (no clean-up of any kind runs). */
    private static void killAt(Process exporter, Path log, java.util.concurrent.Callable<Boolean> point)
            throws Exception {
        try {
            await().atMost(POINT_WAIT).until(() -> point.call() || !exporter.isAlive());
            assertTrue(exporter.isAlive(), () -> "the exporter ended before the crash point: " + FaultTest.read(log));
            exporter.destroyForcibly();
            assertTrue(exporter.waitFor(30, TimeUnit.SECONDS));
            assertEquals(137, exporter.exitValue());
        } finally {
            exporter.destroyForcibly();
        }
    }

    /**
     * New writes on both disks, then one plain backup: it must succeed and leave no job, no
     * target node, no leftover file, and every chain must verify.
     */
    private BackupResult plainRun() throws Exception {
        write(SMALL, 0x43, 12 * MIB, 64 * 1024);
        write(LARGE, 0x53, 40 * MIB, 64 * 1024);
        BackupResult next = Exporter.backup(req, vm.qmp());
        assertEquals(List.of(SMALL, LARGE), next.backups().stream().map(DeviceBackup::device).toList());
        assertEquals(Map.of(), jobs(vm.qmp()));
        assertEquals(List.of(), targetNodes(vm.qmp()));
        assertEquals(List.of(), FaultTest.partials(target));
        Repository repo = new Repository(target);
        for (String device : List.of(SMALL, LARGE)) {
            for (Chain c : repo.chains(device)) {
                VerifyReport report = ChainVerifier.verify(c);
                assertTrue(report.ok(), c + ": " + report.problems());
            }
            // The first full is kept, whatever happened after it.
            assertEquals(full.backups().stream().filter(b -> b.device().equals(device)).findFirst().orElseThrow()
                    .manifest().chainId(), repo.chains(device).get(0).chainId());
        }
        return next;
    }

    /**
     * Pauses the VM, copies each disk as the reference, restores each disk's newest backup
     * (its chain flattened by qemu-img) and compares: same data, every pattern in place.
     */
    private void assertRestoresEqualTheDisks(BackupResult result) throws Exception {
        vm.qmp().execute("stop");
        for (DeviceBackup b : result.backups()) {
            Path disk = vm.disks().stream().filter(d -> d.deviceId().equals(b.device())).findFirst().orElseThrow()
                    .file();
            Path reference = dir.resolve(b.device() + "-reference.qcow2");
            Path restored = dir.resolve(b.device() + "-restored.qcow2");
            FaultTest.run("qemu-img", "convert", "-U", "-O", "qcow2", disk.toString(), reference.toString());
            FaultTest.run("qemu-img", "convert", "-U", "-O", "qcow2", b.file().toString(), restored.toString());
            assertTrue(TestVm.sameContent(restored, reference), b.device() + ": the restore differs from the disk");
            for (long[] w : written.get(b.device())) {
                assertTrue(TestVm.hasPattern(restored, (int) w[0], w[1], w[2]),
                        () -> b.device() + ": pattern " + w[0] + " at " + w[1] + " missing from the restore");
            }
        }
    }

    private void write(String device, int pattern, long offset, long length) throws Exception {
        vm.write(device, pattern, offset, length);
        written.computeIfAbsent(device, d -> new ArrayList<>()).add(new long[] {pattern, offset, length});
    }

    private static String job(String device) {
        return "rkvm-backup-" + device;
    }

    private static List<Level> levels(BackupResult r) {
        return r.backups().stream().map(b -> b.manifest().level()).toList();
    }

    /** Job id to status, for every job on the VM. */
    private static Map<String, String> jobs(QmpClient qmp) throws Exception {
        Map<String, String> jobs = new LinkedHashMap<>();
        for (JsonNode j : qmp.execute("query-jobs")) {
            jobs.put(j.path("id").asText(), j.path("status").asText());
        }
        return jobs;
    }

    private static List<String> targetNodes(QmpClient qmp) throws Exception {
        return RecoveryTest.nodeNames(qmp).stream().filter(n -> n.startsWith("rkvm-target-")).toList();
    }

    private long incManifests(String device) throws IOException {
        Path deviceDir = target.resolve(device);
        if (!Files.exists(deviceDir)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(deviceDir)) {
            return s.filter(f -> f.getFileName().toString().startsWith("INC-")
                    && f.getFileName().toString().endsWith(".qcow2.json")).count();
        }
    }
}

package io.resilientkvm.drill.guest;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.VmHost;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.engine.process.RestartPolicy;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.BackupResult;
import io.resilientkvm.exporter.DeviceBackup;
import io.resilientkvm.exporter.Exporter;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backups of the running tiny guest, read back from the host: a quiesced backup (fsfreeze
 * through the guest agent) needs no ext4 journal replay and no repair; a crash-consistent one
 * needs the replay and then no repair; in both, the main and the external disk hold the guest's
 * journal at one point.
 */
class GuestBackupTest {
    @TempDir
    Path dir;

    @Test
    void quiescedAndCrashConsistentTwoDiskBackupsRestoreCleanFilesystemsAtOnePoint() throws Exception {
        GuestImage image = GuestFixture.image();
        assertTrue(image.guestAgent(), "the guest has no agent: " + image.guestAgentNote());
        int guestPort = GuestFixture.freeGuestPort();
        Path ext = dir.resolve("ext.qcow2");
        new QemuImg().create(ext, "qcow2", 64L << 20);
        KvmParameters p = GuestFixture.params(
                "{\"ram-size\": 256, \"cpu-count\": 1, \"disk-size\": 1, \"use-tap\": false, \"nat-restrict-mode\": true,"
                        + " \"nat-rules\": [" + guestPort + "], \"external-disk\": {\"ext\": {\"path\": \"" + ext
                        + "\", \"format\": \"qcow2\"}}}");
        VmHost host = GuestFixture.host(guestPort);
        InstanceLayout layout = new InstanceLayout(dir.resolve("vm"));
        int hostPort = 10000 + guestPort;
        try (KvmInstance vm = KvmInstance.prepare("guest", p, host, layout)) {
            vm.start(RestartPolicy.NEVER);
            await("the guest's journal passes record #5").atMost(GuestFixture.BOOT).pollInterval(Duration.ofMillis(500))
                    .until(() -> GuestHttp.lastRecord(hostPort, Duration.ofSeconds(5)).map(x -> x.seq() >= 5).orElse(false));
            Path repo = dir.resolve("repo");
            Map<String, Path> quiesced = files(Exporter.backup(BackupRequest.of(layout.backupQmpSocket(), repo)
                    .withGuestAgent(layout.guestAgentSocket()).withRequireQuiesce(true)));
            long seen = GuestHttp.lastRecord(hostPort, Duration.ofSeconds(5)).orElseThrow().seq();
            await("the guest writes on after the thaw").atMost(Duration.ofMinutes(1))
                    .until(() -> GuestHttp.lastRecord(hostPort, Duration.ofSeconds(5)).map(x -> x.seq() > seen + 3).orElse(false));
            Map<String, Path> crash = files(Exporter.backup(BackupRequest.of(layout.backupQmpSocket(), repo)));

            GuestDisk.Report qMain = GuestDisk.inspect(quiesced.get("virtio0"), dir.resolve("check"), "q-main");
            GuestDisk.Report qExt = GuestDisk.inspect(quiesced.get("disk-ext"), dir.resolve("check"), "q-ext");
            assertFalse(qMain.neededRecovery() || qExt.neededRecovery(), "a frozen ext4 has no journal to replay");
            assertEquals(0, qMain.fsckExit(), qMain.fsckOutput());
            assertEquals(0, qExt.fsckExit(), qExt.fsckOutput());
            onePoint(qMain, qExt);

            GuestDisk.Report cMain = GuestDisk.inspect(crash.get("virtio0"), dir.resolve("check"), "c-main");
            GuestDisk.Report cExt = GuestDisk.inspect(crash.get("disk-ext"), dir.resolve("check"), "c-ext");
            assertTrue(cMain.neededRecovery() && cExt.neededRecovery(), "a live ext4 taken without a freeze needs its journal"
                    + " replayed: this is what shows the first backup was really quiesced");
            assertEquals(0, cMain.fsckExit(), cMain.fsckOutput());
            assertEquals(0, cExt.fsckExit(), cExt.fsckOutput());
            onePoint(cMain, cExt);

            // The later point extends the earlier one: nothing the guest wrote was lost or changed.
            byte[] early = qMain.journalBytes();
            byte[] late = cMain.journalBytes();
            assertTrue(late.length > early.length);
            assertArrayEquals(early, Arrays.copyOf(late, early.length));
        }
    }

    private static void onePoint(GuestDisk.Report main, GuestDisk.Report ext) {
        GuestJournal.Verdict m = main.journal();
        GuestJournal.Verdict e = ext.journal();
        assertTrue(m.intact(), m.problem().toString());
        assertTrue(e.intact(), e.problem().toString());
        long skew = m.lastSeq() - e.lastSeq();
        // The writer appends each record to the main disk, then to the external one.
        assertTrue(skew == 0 || skew == 1, "main ends at #" + m.lastSeq() + ", external at #" + e.lastSeq());
        assertTrue(m.lastSeq() >= 5);
    }

    private static Map<String, Path> files(BackupResult result) {
        return result.backups().stream().collect(Collectors.toMap(DeviceBackup::device, DeviceBackup::file));
    }
}

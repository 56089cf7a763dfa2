package io.resilientkvm.exporter.quiesce;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.qmp.QmpEvent;
import io.resilientkvm.engine.qmp.QmpEventStream;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.DeviceBackup;
import io.resilientkvm.exporter.Exporter;
import io.resilientkvm.exporter.repository.Repository;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Quiesce and pause around the backup transaction, with a real QEMU doing the backup. The guest
 * agent is a fake (no guest OS here); the VM's own QMP events show when the transaction ran.
 */
class QuiesceBackupTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void freezeComesJustBeforeTheTransactionAndThawRightAfter() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        try (FakeGuestAgent agent = new FakeGuestAgent(dir.resolve("qga.sock"));
                TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x41, 0, 2 * MIB);
            Instant created;
            DeviceBackup b;
            try (QmpEventStream events = vm.qmp().openEventStream("JOB_STATUS_CHANGE")) {
                b = single(Exporter.backup(BackupRequest.of(null, target).withGuestAgent(dir.resolve("qga.sock")),
                        vm.qmp()));
                created = firstCreated(events);
            }
            assertEquals(List.of("guest-fsfreeze-freeze", "guest-fsfreeze-thaw"), agent.commands());
            Instant freeze = at(agent, "guest-fsfreeze-freeze");
            Instant thaw = at(agent, "guest-fsfreeze-thaw");
            // QEMU stamps its events with the host's real-time clock, as Instant.now() reads it.
            assertTrue(freeze.isBefore(created), "freeze " + freeze + " before the job's creation " + created);
            assertTrue(created.isBefore(thaw), "thaw " + thaw + " after the job's creation " + created);
            assertFalse(thaw.isAfter(b.manifest().finishedAt()), "thaw right after the transaction, not after the job");
            vm.quit();
            assertTrue(TestVm.sameContent(b.file(), disk));
        }
    }

    @Test
    void thawRunsWhenTheTransactionFails() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        try (FakeGuestAgent agent = new FakeGuestAgent(dir.resolve("qga.sock"));
                TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            startBlockingJob(vm, dir.resolve("blocker.qcow2"));
            OperationFailedException e = assertThrows(OperationFailedException.class, () -> Exporter.backup(
                    BackupRequest.of(null, target).withGuestAgent(dir.resolve("qga.sock")), vm.qmp()));
            assertTrue(e.getMessage().contains("busy"), e.getMessage());
            assertEquals(List.of("guest-fsfreeze-freeze", "guest-fsfreeze-thaw"), agent.commands());
            assertTrue(new Repository(target).newestChain("virtio0").isEmpty(), "no chain from a failed full");
            vm.qmp().execute("job-cancel", JsonNodeFactory.instance.objectNode().put("id", "blocker"));
        }
    }

    @Test
    void aFailedFreezeIsAWarningUnlessQuiesceIsRequired() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        try (FakeGuestAgent agent = new FakeGuestAgent(dir.resolve("qga.sock"));
                TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            agent.freeze(FakeGuestAgent.Freeze.ERROR);
            BackupRequest req = BackupRequest.of(null, target).withGuestAgent(dir.resolve("qga.sock"));

            OperationFailedException e = assertThrows(OperationFailedException.class,
                    () -> Exporter.backup(req.withRequireQuiesce(true), vm.qmp()));
            assertTrue(e.getMessage().contains("quiesce is required") && e.getMessage().contains("resource busy"),
                    e.getMessage());
            assertTrue(new Repository(target).newestChain("virtio0").isEmpty(), "nothing backed up");

            vm.write("virtio0", 0x42, MIB, MIB);
            DeviceBackup b = single(Exporter.backup(req, vm.qmp()));
            assertTrue(ChainVerifier.verify(new Repository(target).newestChain("virtio0").orElseThrow()).ok());
            assertTrue(TestVm.hasPattern(b.file(), 0x42, MIB, MIB));
            // Each attempt thaws, even after the failed freeze: the guest may have frozen late.
            assertEquals(List.of("guest-fsfreeze-freeze", "guest-fsfreeze-thaw", "guest-fsfreeze-freeze",
                    "guest-fsfreeze-thaw"), agent.commands());
        }
    }

    @Test
    void pauseStopsTheVmAroundTheTransactionOnlyAndItRunsAgainAfter() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path target = dir.resolve("backups");
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            vm.write("virtio0", 0x43, 3 * MIB, MIB);
            List<String> order;
            DeviceBackup b;
            try (QmpEventStream events = vm.qmp().openEventStream(
                    e -> List.of("STOP", "RESUME").contains(e.name()) || "JOB_STATUS_CHANGE".equals(e.name())
                            && List.of("created", "concluded").contains(e.dataText("status")))) {
                b = single(Exporter.backup(BackupRequest.of(null, target).withPause(true), vm.qmp()));
                order = drain(events);
            }
            // One event stream of one QMP connection: QEMU's own order. The job may conclude before
            // or after the resume (a small job is quick), but it is created while the VM is stopped.
            assertEquals(List.of("STOP", "created", "RESUME"), order.stream().filter(x -> !x.equals("concluded")).toList(),
                    "events: " + order);
            assertTrue(order.indexOf("concluded") > order.indexOf("created"), "events: " + order);
            assertEquals("running", vm.qmp().execute("query-status").path("status").asText());
            assertTrue(TestVm.hasPattern(b.file(), 0x43, 3 * MIB, MIB));

            // A paused VM stays paused: --pause resumes only what it stopped.
            vm.qmp().execute("stop");
            vm.write("virtio0", 0x44, 5 * MIB, MIB);
            DeviceBackup inc = single(Exporter.backup(BackupRequest.of(null, target).withPause(true), vm.qmp()));
            assertEquals("paused", vm.qmp().execute("query-status").path("status").asText());
            vm.quit();
            assertTrue(TestVm.sameContent(inc.file(), disk));
        }
    }

    /** A slow backup job of the test itself on the disk: QEMU then refuses a second one ("busy"). */
    static void startBlockingJob(TestVm vm, Path scratch) throws Exception {
        vm.qmp().execute("drive-backup", JsonNodeFactory.instance.objectNode().put("job-id", "blocker")
                .put("device", "virtio0-fmt").put("target", scratch.toString()).put("format", "qcow2")
                .put("sync", "full").put("speed", 1));
    }

    private static List<String> drain(QmpEventStream events) throws Exception {
        List<String> names = new java.util.ArrayList<>();
        while (true) {
            QmpEvent e;
            try {
                e = events.next(Duration.ofMillis(200));
            } catch (io.resilientkvm.engine.qmp.QmpTimeoutException done) {
                return names;
            }
            names.add("JOB_STATUS_CHANGE".equals(e.name()) ? e.dataText("status") : e.name());
        }
    }

    private static Instant firstCreated(QmpEventStream events) throws Exception {
        while (true) {
            QmpEvent e = events.next(Duration.ofSeconds(5));
            if ("created".equals(e.dataText("status"))) {
                return e.timestamp();
            }
        }
    }

    private static Instant at(FakeGuestAgent agent, String command) {
        return agent.calls().stream().filter(c -> c.command().equals(command)).findFirst().orElseThrow().at();
    }

    private static DeviceBackup single(io.resilientkvm.exporter.BackupResult r) {
        assertEquals(1, r.backups().size(), "backups: " + r.backups());
        assertFalse(Files.exists(r.backups().get(0).file().resolveSibling(r.backups().get(0).file().getFileName()
                + ".partial")));
        return r.backups().get(0);
    }
}

package io.resilientkvm.exporter.qmp;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.exporter.image.QemuImg;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The job runner on its own: a refused transaction leaves no job, node or bitmap behind. */
class BackupTransactionTest {
    @TempDir
    Path dir;

    @Test
    void aRefusedTransactionIsAFailedOutcomeAndLeavesNothingAttached() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 << 20);
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            BlockDevice device = BlockDiscovery.discover(vm.qmp()).get(0);
            Path wrongSize = dir.resolve("small.qcow2");
            QemuImg.createFull(wrongSize, 32 << 20, device.clusterSize());
            List<JobOutcome> outcomes = new BackupTransaction(vm.qmp(),
                    new BackupTransaction.Options(0, false, Duration.ofMinutes(1)))
                    .run(List.of(new JobSpec(device, false, wrongSize, "qmpbackup-virtio0-x", true)));
            assertEquals(1, outcomes.size());
            assertFalse(outcomes.get(0).ok());
            assertTrue(outcomes.get(0).error().contains("size"), outcomes.get(0).error());
            assertTrue(vm.qmp().execute("query-jobs").isEmpty());
            assertTrue(BlockDiscovery.discover(vm.qmp()).get(0).bitmaps().isEmpty(), "the transaction added no bitmap");
            List<String> nodes = new ArrayList<>();
            vm.qmp().execute("query-named-block-nodes").forEach(n -> nodes.add(n.path("node-name").asText()));
            assertFalse(nodes.stream().anyMatch(n -> n.startsWith(BackupTransaction.TARGET_PREFIX)), nodes.toString());
        }
    }

    @Test
    void targetNodeNamesFitQemusLimit() {
        assertEquals("rkvm-target-virtio0", BackupTransaction.targetNode("virtio0"));
        assertTrue(BackupTransaction.targetNode("a-very-long-device-name-indeed-0123456789").length() <= 31);
        assertEquals("rkvm-backup-a_b", BackupTransaction.jobId("a/b"));
    }

    @Test
    void cleanStaleCancelsAGroupLeftPendingAndTheBitmapsKeepTheirBits() throws Exception {
        // Our runs use auto-finalize, so 'pending' only flashes by; a group left with
        // auto-finalize off stays there, and the clean-up must still take it away.
        Path a = TestVm.blankQcow2(dir.resolve("a.qcow2"), 16 << 20);
        Path b = TestVm.blankQcow2(dir.resolve("b.qcow2"), 16 << 20);
        JsonNodeFactory f = JsonNodeFactory.instance;
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", a).disk("virtio1", b).running(true).start()) {
            List<BlockDevice> devices = BlockDiscovery.discover(vm.qmp());
            ArrayNode actions = f.arrayNode();
            for (BlockDevice d : devices) {
                vm.qmp().execute("block-dirty-bitmap-add", f.objectNode().put("node", d.nodeName()).put("name", "bm"));
                vm.write(d.name(), 0x41, 0, 1 << 20);
                Path file = dir.resolve(d.name() + "-target.qcow2");
                QemuImg.createFull(file, d.virtualSize(), d.clusterSize());
                ObjectNode add = f.objectNode().put("driver", "qcow2").put("node-name", BackupTransaction.targetNode(d.name()));
                add.putObject("file").put("driver", "file").put("filename", file.toString());
                add.putNull("backing");
                vm.qmp().execute("blockdev-add", add);
                actions.add(f.objectNode().put("type", "blockdev-backup").set("data", f.objectNode()
                        .put("job-id", BackupTransaction.jobId(d.name())).put("device", d.nodeName())
                        .put("target", BackupTransaction.targetNode(d.name())).put("sync", "incremental")
                        .put("bitmap", "bm").put("auto-finalize", false).put("auto-dismiss", false)));
            }
            ObjectNode txn = f.objectNode();
            txn.set("actions", actions);
            txn.putObject("properties").put("completion-mode", "grouped");
            vm.qmp().execute("transaction", txn);
            await().atMost(Duration.ofSeconds(30)).until(() -> Map.of("rkvm-backup-virtio0", "pending",
                    "rkvm-backup-virtio1", "pending").equals(jobs(vm)));

            BackupTransaction.cleanStale(vm.qmp());
            assertEquals(Map.of(), jobs(vm));
            List<String> nodes = new ArrayList<>();
            vm.qmp().execute("query-named-block-nodes").forEach(n -> nodes.add(n.path("node-name").asText()));
            assertFalse(nodes.stream().anyMatch(n -> n.startsWith(BackupTransaction.TARGET_PREFIX)), nodes.toString());
            for (BlockDevice d : BlockDiscovery.discover(vm.qmp())) {
                assertEquals(1 << 20, d.bitmap("bm").orElseThrow().count(), d.name() + ": cancelled, not finalized");
            }
        }
    }

    @Test
    void eachJobStateGetsTheVerbQemuAcceptsInIt() {
        assertEquals("job-dismiss", StaleJobs.verbFor("concluded"));
        for (String s : List.of("created", "running", "paused", "ready", "standby", "waiting", "pending")) {
            assertEquals("job-cancel", StaleJobs.verbFor(s), s);
        }
        assertEquals(null, StaleJobs.verbFor("aborting"));
    }

    private static Map<String, String> jobs(TestVm vm) throws Exception {
        Map<String, String> jobs = new LinkedHashMap<>();
        for (JsonNode j : vm.qmp().execute("query-jobs")) {
            jobs.put(j.path("id").asText(), j.path("status").asText());
        }
        return jobs;
    }
}

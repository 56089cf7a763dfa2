package io.resilientkvm.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.params.InstanceParameters;
import io.resilientkvm.engine.params.ParameterFiles;
import io.resilientkvm.engine.process.QemuProcess;
import io.resilientkvm.engine.process.RestartPolicy;
import io.resilientkvm.engine.process.VmSupervisor;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.importer.restore.Hold;
import io.resilientkvm.importer.restore.Holds;
import io.resilientkvm.importer.restore.RestoreResult;
import io.resilientkvm.importer.testing.TestRepository;
import io.resilientkvm.importer.testing.TestRepository.Point;
import io.resilientkvm.schemas.SchemaKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A promotion's instant overlay runs in a real QEMU with its restored chain pinned: each backup is
 * its own read-only node, backed by the node of the backup below, the full by none. Flattening
 * streams the chain into the disk and deletes those nodes; QEMU, killed and restarted by its
 * supervisor, then opens the standalone disk as one node, with the argv built afresh.
 */
@Timeout(value = 180, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PinnedChainTest {
    private static final long MIB = 1024 * 1024;
    private static final Instant T0 = Instant.parse("2026-11-20T10:00:00Z");

    @TempDir
    Path dir;

    @Test
    void aRestoredChainRunsAsPinnedNodesIsStreamedAndARestartOpensTheStandaloneDisk() throws Exception {
        NodeConfig cfg = TestNodeConfig.write(dir, "node-b", "kvm1", "127.0.0.1:1", Duration.ofSeconds(10), "", "");
        InstanceParameters params = ParameterFiles.load(dir.resolve("params.json"), SchemaKind.RESILIENT_INSTANCE);
        NodeContext ctx = new NodeContext(cfg, params, params.resilient().orElseThrow(), null, cfg.zkLayout());
        InstanceLayout layout = cfg.layout();
        Path repo = Files.createDirectories(layout.backupRepository());
        TestRepository chains = new TestRepository(repo, dir.resolve("work"), "virtio0", 16 * MIB);
        Point full = chains.full(T0, "write -P 0x41 0 1M");
        Point inc1 = chains.inc(T0.plusSeconds(60), "write -P 0x42 1M 1M");
        Point inc2 = chains.inc(T0.plusSeconds(120), "write -P 0x43 2M 1M");

        List<Hold> holds = new ArrayList<>();
        for (RestoreResult r : Promotion.restoreDisks(ctx)) {
            r.hold().ifPresent(holds::add);
        }
        assertEquals(1, holds.size(), holds.toString());

        try (KvmInstance instance = KvmInstance.prepare(cfg.instance(), params.kvm(), cfg.host(), layout)) {
            VmSupervisor supervisor = instance.start(new RestartPolicy(5, Duration.ofMinutes(10), Duration.ofMillis(100),
                    Duration.ofSeconds(1)));
            QemuProcess first = supervisor.current().orElseThrow();
            Map<String, JsonNode> nodes = nodes(first);
            assertEquals(List.of("virtual1", "virtual1-backing-1", "virtual1-backing-1-file", "virtual1-backing-2",
                    "virtual1-backing-2-file", "virtual1-backing-3", "virtual1-backing-3-file", "virtual1-file"),
                    List.copyOf(nodes.keySet()));
            assertNode(nodes, "virtual1-backing-1", file(repo, inc2), "virtual1-backing-2");
            assertNode(nodes, "virtual1-backing-2", file(repo, inc1), "virtual1-backing-3");
            assertNode(nodes, "virtual1-backing-3", file(repo, full), null);
            assertEquals(layout.mainDisk().toString(), nodes.get("virtual1-file").path("file").asText());
            assertTrue(nodes.get("virtual1-backing-1").path("ro").asBoolean(), "the chain is opened read-only");
            assertFalse(nodes.get("virtual1").path("ro").asBoolean());
            assertEquals("virtual1-backing-1", child(first, "virtual1", "backing"), "the disk reads from the pinned chain");

            // The guest reads the chain's data through the pinned nodes and writes into the overlay.
            write(first, 0x44, 3 * MIB, MIB);
            first.qmp().execute("block-dirty-bitmap-add", JsonNodeFactory.instance.objectNode().put("node", "virtual1")
                    .put("name", "rkvm-test").put("persistent", true));

            new Flattening(layout.backupQmpSocket(), repo, holds).runOnce();
            Map<String, JsonNode> flat = nodes(first);
            assertEquals(List.of("virtual1", "virtual1-file"), List.copyOf(flat.keySet()),
                    "after the stream the chain's nodes are deleted, so its files are closed");
            assertTrue(flat.get("virtual1").path("backing_file").isMissingNode(), flat.get("virtual1").toString());
            assertEquals(List.of("rkvm-test"), flat.get("virtual1").path("dirty-bitmaps").findValuesAsText("name"),
                    "the disk's bitmaps are unaffected");
            assertTrue(new Holds(repo).list().isEmpty(), "the hold is released");

            first.kill(Duration.ofSeconds(10));
            await().atMost(Duration.ofSeconds(60)).until(() -> supervisor.current().filter(p -> p != first).isPresent());
            QemuProcess second = supervisor.current().orElseThrow();
            Map<String, JsonNode> restarted = nodes(second);
            assertEquals(List.of("virtual1", "virtual1-file"), List.copyOf(restarted.keySet()),
                    "the restart built the argv again: one standalone node");
            assertFalse(second.launch().argv().toString().contains(repo.toString()), second.launch().argv().toString());
            assertTrue(restarted.get("virtual1").path("backing_file").isMissingNode());
            instance.close();
        }
        for (Path f : List.of(file(repo, full), file(repo, inc1), file(repo, inc2))) {
            Files.delete(f); // as retention would: the disk must not need them
        }
        assertTrue(TestVm.hasPattern(layout.mainDisk(), 0x41, 0, MIB));
        assertTrue(TestVm.hasPattern(layout.mainDisk(), 0x42, MIB, MIB));
        assertTrue(TestVm.hasPattern(layout.mainDisk(), 0x43, 2 * MIB, MIB));
        assertTrue(TestVm.hasPattern(layout.mainDisk(), 0x44, 3 * MIB, MIB));
        assertTrue(TestVm.hasPattern(layout.mainDisk(), 0x00, 4 * MIB, MIB));
    }

    private static void write(QemuProcess qemu, int pattern, long offset, long length) throws QmpException {
        String out = qemu.qmp().humanMonitorCommand(String.format("qemu-io -d %s \"write -P 0x%02x %d %d\"",
                TestVm.qemuIoTarget("virtio0"), pattern, offset, length), Duration.ofMinutes(1));
        assertTrue(out.isBlank(), out);
    }

    private static Map<String, JsonNode> nodes(QemuProcess qemu) throws QmpException {
        Map<String, JsonNode> out = new TreeMap<>();
        for (JsonNode n : qemu.qmp().execute("query-named-block-nodes", JsonNodeFactory.instance.objectNode().put("flat", true))) {
            out.put(n.path("node-name").asText(), n);
        }
        return out;
    }

    /** A node's file and backing child, as QEMU's graph has them. */
    private static void assertNode(Map<String, JsonNode> nodes, String name, Path file, String backing) {
        JsonNode n = nodes.get(name);
        assertEquals("qcow2", n.path("drv").asText(), n.toString());
        assertEquals(file.toString(), nodes.get(name + "-file").path("file").asText(), n.toString());
        assertTrue(n.path("ro").asBoolean(), n.toString());
        if (backing == null) {
            assertTrue(n.path("backing_file").isMissingNode(), "the full has no backing: " + n);
        } else {
            assertTrue(n.path("backing_file").asText().contains(nodes.get(backing + "-file").path("file").asText()), n.toString());
        }
    }

    /** The name of {@code node}'s child {@code role} in QEMU's block graph ({@code x-debug-query-block-graph}). */
    private static String child(QemuProcess qemu, String node, String role) throws QmpException {
        JsonNode graph = qemu.qmp().execute("x-debug-query-block-graph");
        Map<Long, String> names = new TreeMap<>();
        for (JsonNode n : graph.path("nodes")) {
            names.put(n.path("id").asLong(), n.path("name").asText());
        }
        for (JsonNode e : graph.path("edges")) {
            if (node.equals(names.get(e.path("parent").asLong())) && role.equals(e.path("name").asText())) {
                return names.get(e.path("child").asLong());
            }
        }
        return null;
    }

    private static Path file(Path repo, Point p) {
        return repo.resolve(p.device()).resolve(p.chainId()).resolve(p.file());
    }
}

package io.resilientkvm.engine.qemu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.VmHost;
import io.resilientkvm.engine.params.KvmParameters;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A disk's pinned chain in the argv: one read-only node per backup, the full first, the disk's node unchanged. */
class QemuCommandLinePinnedChainTest {
    private static final InstanceLayout LAYOUT = new InstanceLayout(Path.of("/srv/kvm1"));
    private static final ObjectMapper JSON = new ObjectMapper();

    private static List<JsonNode> blockdevs(List<DiskAttachment> disks) throws Exception {
        KvmParameters p = QemuCommandLineTest.params("{\"use-tap\": false}");
        List<String> argv = QemuCommandLine.build(new QemuCommandLine.Inputs("kvm1", p, VmHost.loopback(), LAYOUT, disks,
                Accelerator.TCG, "max", LAYOUT.vncPasswordFile()));
        List<JsonNode> out = new ArrayList<>();
        for (String b : QemuCommandLineTest.values(argv, "-blockdev")) {
            out.add(JSON.readTree(b));
        }
        return out;
    }

    @Test
    void eachBackupIsItsOwnReadOnlyNodeBackedByTheOneBelow() throws Exception {
        Path inc = Path.of("/srv/kvm1/srv/backup/virtio0/c1/INC-20261120T100100.000Z.qcow2");
        Path full = Path.of("/srv/kvm1/srv/backup/virtio0/c1/FULL-20261120T100000.000Z.qcow2");
        DiskAttachment main = DiskPlan.of(QemuCommandLineTest.params("{}"), LAYOUT, f -> "raw").get(0);
        List<JsonNode> b = blockdevs(List.of(main.withBacking(List.of(inc, full))));
        List<String> names = b.stream().map(n -> n.path("node-name").asText()).toList();
        assertEquals(List.of("virtual1-backing-2-file", "virtual1-backing-2", "virtual1-backing-1-file", "virtual1-backing-1",
                "virtual1-file", "virtual1"), names, "a node exists before a node names it");
        assertEquals(full.toString(), b.get(0).path("filename").asText());
        assertTrue(b.get(1).path("backing").isNull(), "the full ends the chain: " + b.get(1));
        assertEquals(inc.toString(), b.get(2).path("filename").asText());
        assertEquals("virtual1-backing-2", b.get(3).path("backing").asText());
        for (int i = 0; i < 4; i++) {
            assertTrue(b.get(i).path("read-only").asBoolean(), "the chain is never written: " + b.get(i));
        }
        assertEquals("virtual1-backing-1", b.get(5).path("backing").asText());

        List<JsonNode> standalone = blockdevs(List.of(main.withBacking(List.of())));
        assertEquals(2, standalone.size());
        assertTrue(standalone.get(1).path("backing").isNull(), "a checked standalone disk opens no backing: " + standalone);
        assertTrue(blockdevs(List.of(main)).get(1).path("backing").isMissingNode(), "an unread disk is as before");
    }

    @Test
    void backingNodeNamesFitQemusLimitForLongDiskNames() {
        assertEquals("virtual1-backing-3", DiskAttachment.backingNodeName("virtual1", 3));
        String longName = "disk-third_disk.907c7112";
        String name = DiskAttachment.backingNodeName(longName, 120);
        assertTrue((name + "-file").length() <= DiskAttachment.MAX_NODE_NAME, name);
        assertEquals(name, DiskAttachment.backingNodeName(longName, 120), "stable");
        assertTrue(!name.equals(DiskAttachment.backingNodeName("disk-other_disk.12345678", 120)), name);
    }
}

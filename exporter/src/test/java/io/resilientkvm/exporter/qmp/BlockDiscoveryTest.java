package io.resilientkvm.exporter.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.engine.testing.TestVm.Attach;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Disks given with -drive and with -blockdev + -device are both found, with their bitmaps. */
class BlockDiscoveryTest {
    @TempDir
    Path dir;

    @Test
    void findsDriveAndBlockdevDisksAndTheirBitmapFlags() throws Exception {
        Path a = TestVm.blankQcow2(dir.resolve("a.qcow2"), 64 << 20);
        Path b = TestVm.blankQcow2(dir.resolve("b.qcow2"), 32 << 20);
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", a, "qcow2", Attach.DRIVE)
                .disk("disk1", b).running(true).start()) {
            vm.qmp().execute("block-dirty-bitmap-add", JsonNodeFactory.instance.objectNode()
                    .put("node", "disk1-fmt").put("name", "qmpbackup-disk1-x").put("persistent", true));
            List<BlockDevice> devices = BlockDiscovery.discover(vm.qmp());
            assertEquals(List.of("virtio0", "disk1"), devices.stream().map(BlockDevice::name).toList());

            BlockDevice drive = devices.get(0);
            assertFalse(drive.nodeName().isEmpty());
            assertEquals("qcow2", drive.format());
            assertEquals(64 << 20, drive.virtualSize());
            assertEquals(65536, drive.clusterSize());
            assertTrue(drive.file().endsWith("a.qcow2"), drive.file());
            assertTrue(drive.bitmaps().isEmpty());
            assertFalse(drive.readOnly());

            BlockDevice blockdev = devices.get(1);
            assertEquals("disk1-fmt", blockdev.nodeName());
            assertEquals(32 << 20, blockdev.virtualSize());
            DirtyBitmap bm = blockdev.bitmap("qmpbackup-disk1-x").orElseThrow();
            assertTrue(bm.recording());
            assertTrue(bm.persistent());
            assertFalse(bm.busy());
            assertFalse(bm.inconsistent());
        }
    }

    @Test
    void namesComeFromBackendOrQdevId() {
        assertEquals("drive-virtio-disk0", BlockDiscovery.deviceName("drive-virtio-disk0", "", "#block1"));
        assertEquals("virtio0", BlockDiscovery.deviceName("", "/machine/peripheral/virtio0/virtio-backend", "n"));
        assertEquals("scsi0", BlockDiscovery.deviceName("", "scsi0", "n"));
        assertEquals("node7", BlockDiscovery.deviceName("", "/machine/peripheral-anon/device[0]", "node7"));
    }
}

package io.resilientkvm.exporter.qmp;

import java.util.List;
import java.util.Optional;

/**
 * A disk of the running VM that can be backed up.
 *
 * @param name        the stable name used for its repository folder and bitmap names: the
 *                    block backend's name ({@code -drive}, e.g. {@code virtio0}) or else the
 *                    device's qdev id ({@code -blockdev} + {@code -device id=...})
 * @param nodeName    the top block node: what QMP commands address
 * @param file        the image file QEMU has open
 * @param format      the top node's driver, e.g. {@code qcow2}
 * @param virtualSize the disk's size in bytes
 * @param clusterSize the image's cluster size (64 KiB when the format has none)
 * @param readOnly    whether the guest cannot write it (e.g. a CD-ROM)
 * @param bitmaps     the dirty bitmaps on the node
 */
public record BlockDevice(String name, String nodeName, String file, String format, long virtualSize,
        long clusterSize, boolean readOnly, List<DirtyBitmap> bitmaps) {

    public BlockDevice {
        bitmaps = List.copyOf(bitmaps);
    }

    /** The bitmap with this name, if the node has it. */
    public Optional<DirtyBitmap> bitmap(String bitmapName) {
        return bitmaps.stream().filter(b -> b.name().equals(bitmapName)).findFirst();
    }
}

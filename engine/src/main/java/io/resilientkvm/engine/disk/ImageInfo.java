package io.resilientkvm.engine.disk;

import java.util.List;

/**
 * What {@code qemu-img info} says about an image.
 *
 * @param format      the detected format, e.g. {@code qcow2}
 * @param virtualSize the size the guest sees, in bytes
 * @param actualSize  the bytes used on the host, or -1 when unknown
 * @param clusterSize the cluster size in bytes, or -1 when the format has none
 * @param backingFile the backing file, or {@code null}
 * @param bitmaps     the persistent dirty bitmaps (qcow2), empty otherwise
 */
public record ImageInfo(String format, long virtualSize, long actualSize, long clusterSize, String backingFile,
        List<Bitmap> bitmaps) {
    public ImageInfo {
        bitmaps = List.copyOf(bitmaps);
    }

    /**
     * A persistent dirty bitmap.
     *
     * @param name  its name
     * @param flags its flags as qemu-img prints them, e.g. {@code auto}, {@code in-use}
     */
    public record Bitmap(String name, List<String> flags) {
        public Bitmap {
            flags = List.copyOf(flags);
        }
    }
}

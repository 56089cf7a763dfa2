package io.resilientkvm.engine.disk;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The legacy external disks ({@code external-disk-number}, {@code external-disk-size},
 * {@code external-disk-format}): disks the software creates itself.
 *
 * <p>Layout, kept for compatibility with existing instances: disk {@code i} (1-based) is the file
 * {@code <dataDir>/external/data<i>/kvm_virtual_disk.<format>} and has the id {@code data<i>}; disks
 * are attached in that order.
 *
 * @param number  how many disks; 0 means none
 * @param sizeGiB the virtual size of each disk in GiB, used when it is created
 * @param format  the image format of each disk, e.g. {@code qcow2}
 */
public record LegacyExternalDisks(int number, long sizeGiB, String format) {
    public static final LegacyExternalDisks NONE = new LegacyExternalDisks(0, 0, "qcow2");

    public LegacyExternalDisks {
        Objects.requireNonNull(format, "format");
        if (number < 0) {
            throw new IllegalArgumentException("external disk number must not be negative, got " + number);
        }
        if (number > 0 && sizeGiB <= 0) {
            throw new IllegalArgumentException("external disk size must be positive, got " + sizeGiB + " GiB");
        }
    }

    public long sizeBytes() {
        return sizeGiB * 1024L * 1024L * 1024L;
    }

    /** The disks in attachment order, ids {@code data1..dataN}. */
    public List<ExternalDisk> disks(Path dataDir) {
        List<ExternalDisk> disks = new ArrayList<>(number);
        for (int i = 1; i <= number; i++) {
            Path file = dataDir.resolve("external").resolve("data" + i).resolve("kvm_virtual_disk." + format);
            disks.add(new ExternalDisk("data" + i, file, i, format, null));
        }
        return List.copyOf(disks);
    }
}

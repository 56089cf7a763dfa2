package io.resilientkvm.engine.disk;

import java.nio.file.Path;
import java.util.Objects;

/**
 * The VM's main (boot) disk.
 *
 * @param file      the image file
 * @param sizeBytes the virtual size used when the disk has to be created
 * @param format    the image format, e.g. {@code qcow2}
 */
public record MainDisk(Path file, long sizeBytes, String format) implements DiskSpec {
    public MainDisk {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(format, "format");
        if (sizeBytes <= 0) {
            throw new IllegalArgumentException("main disk size must be positive, got " + sizeBytes);
        }
    }

    @Override
    public Path path() {
        return file;
    }

    MainDisk withFormat(String newFormat) {
        return new MainDisk(file, sizeBytes, newFormat);
    }
}

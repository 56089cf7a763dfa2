package io.resilientkvm.engine.disk;

import java.nio.file.Path;
import java.util.Objects;

/**
 * An external (data) disk attached after the main disk.
 *
 * @param id     its stable identifier, recorded in {@code etc/.data-disk-ids} (derived from the name in the
 *               {@code external-disk} map, or {@code dataN})
 * @param name   what the operator calls it in messages (the key in the map; the id for legacy disks)
 * @param path   the absolute image file or block device; it must already exist for modern external disks
 * @param index  its attachment order; disks are attached by increasing index
 * @param format the image format; {@code null} only before provisioning, which fixes it at first attach
 *               ({@link DiskProvisioner})
 * @param cache  the QEMU cache mode; {@code null} means {@value #DEFAULT_CACHE}
 */
public record ExternalDisk(String id, String name, Path path, int index, String format, String cache) implements DiskSpec {
    public static final String DEFAULT_CACHE = "writeback";

    public ExternalDisk {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(path, "path");
        if (id.isBlank()) {
            throw new IllegalArgumentException("external disk id is blank");
        }
        if (cache == null) {
            cache = DEFAULT_CACHE;
        }
    }

    /** This disk with its format fixed. */
    public ExternalDisk withFormat(String newFormat) {
        return new ExternalDisk(id, name, path, index, newFormat, cache);
    }

    /** A disk whose name is its id (the legacy {@code dataN} disks). */
    public ExternalDisk(String id, Path path, int index, String format, String cache) {
        this(id, id, path, index, format, cache);
    }
}

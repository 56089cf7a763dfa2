package io.resilientkvm.engine.params;

import io.resilientkvm.schemas.ExternalDiskNames;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * One entry of the {@code external-disk} map: an existing image the operator manages.
 *
 * @param name  the key in the map, as the operator wrote it (any printable name, as in the seed system)
 * @param path  as given: absolute, or relative to the instance directory (see {@link #path(Path)})
 * @param index 0 when absent (allowed only for a single disk)
 */
public record ExternalDiskParameter(String name, Path path, int index, Optional<String> format, String cache, boolean discard,
        boolean readOnly) {
    public ExternalDiskParameter {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(path, "path");
    }

    /** The id derived from the name ({@link ExternalDiskNames#qemuId}), recorded in {@code etc/.data-disk-ids}. */
    public String id() {
        return ExternalDiskNames.qemuId(name);
    }

    /** The QEMU node name and device id of this disk, which also names its backup folder. */
    public String deviceId() {
        return "disk-" + id();
    }

    /**
     * The disk's absolute path: a relative path is resolved against {@code instanceDir}, the instance's data
     * directory (the one holding {@code etc/} and {@code disks/}), as the seed system resolves it against the
     * instance's partition directory.
     */
    public Path path(Path instanceDir) {
        return instanceDir.toAbsolutePath().resolve(path).normalize();
    }
}

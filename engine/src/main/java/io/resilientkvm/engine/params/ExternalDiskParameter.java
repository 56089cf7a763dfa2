package io.resilientkvm.engine.params;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * One entry of the {@code external-disk} map: an existing image the operator manages.
 * {@code index} is 0 when absent (allowed only for a single disk).
 */
public record ExternalDiskParameter(String id, Path path, int index, Optional<String> format, String cache, boolean discard,
        boolean readOnly) {
    public ExternalDiskParameter {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(path, "path");
        if (!path.isAbsolute()) {
            throw new IllegalArgumentException("external-disk." + id + ".path must be absolute: " + path);
        }
    }
}

package io.resilientkvm.exporter.image;

import io.resilientkvm.engine.disk.CheckResult;
import io.resilientkvm.engine.disk.ImageInfo;
import io.resilientkvm.engine.error.OperatorException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The backup targets the exporter needs, made with the engine's {@link io.resilientkvm.engine.disk.QemuImg}:
 * a full target of exactly the source's size and cluster size, and incremental targets whose
 * backing file is a name relative to their folder, so a chain can move between hosts.
 */
public final class QemuImg {
    /** Backup targets can be large and the host busy: allow more than the engine's default. */
    private static final io.resilientkvm.engine.disk.QemuImg QEMU_IMG =
            new io.resilientkvm.engine.disk.QemuImg("qemu-img", Duration.ofMinutes(10));

    private QemuImg() {
    }

    /** Creates an empty qcow2 of exactly {@code virtualSize} bytes for a full backup. */
    public static void createFull(Path file, long virtualSize, long clusterSize) throws IOException {
        create(file, virtualSize, Map.of("cluster_size", Long.toString(clusterSize)));
    }

    /**
     * Creates an empty qcow2 whose backing file is {@code backingName}, a name relative to
     * {@code file}'s folder (so the chain can move between hosts).
     */
    public static void createIncremental(Path file, String backingName, long virtualSize, long clusterSize)
            throws IOException {
        if (backingName.contains("/")) {
            throw new IllegalArgumentException("backing file name must be relative to the same folder: " + backingName);
        }
        Map<String, String> options = new LinkedHashMap<>();
        options.put("backing_file", backingName);
        options.put("backing_fmt", "qcow2");
        options.put("cluster_size", Long.toString(clusterSize));
        create(file, virtualSize, options);
    }

    /** {@code qemu-img info} of the image alone (not its backing chain). */
    public static ImageInfo info(Path file) throws IOException {
        try {
            return QEMU_IMG.info(file);
        } catch (OperatorException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /** {@code qemu-img check}: OK, CORRUPTED, or LEAKS (leaked clusters only, harmless). */
    public static CheckResult check(Path file) throws IOException {
        try {
            return QEMU_IMG.check(file);
        } catch (OperatorException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    private static void create(Path file, long virtualSize, Map<String, String> options) throws IOException {
        try {
            QEMU_IMG.create(file, "qcow2", virtualSize, options);
        } catch (OperatorException e) {
            throw new IOException(e.getMessage(), e);
        }
    }
}

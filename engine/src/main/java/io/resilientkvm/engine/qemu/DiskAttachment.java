package io.resilientkvm.engine.qemu;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * One disk as QEMU sees it: a {@code file} node {@code <nodeName>-file} under a format node
 * {@code nodeName}, behind a guest device {@code deviceId}. Node names and device ids are stable
 * so that the exporter finds the same disk, and the same backup folder, after every restart.
 *
 * <p>A qcow2 disk whose header was read ({@link io.resilientkvm.engine.image.BackingChain}) has its
 * chain pinned: each backing file is a read-only node {@link #backingNodeName backingNodeName(n)}
 * (1 the nearest, the full last, with {@code backing: null}), so QEMU follows no name inside an image.
 *
 * @param cache     writeback, writethrough, none, directsync or unsafe (QEMU's -drive cache modes)
 * @param bootIndex boot order, or -1 for none
 * @param backing   the backing files, nearest first, when the header was read (empty: standalone,
 *                  pinned with {@code backing: null}); absent when QEMU opens the image as it is
 */
public record DiskAttachment(String deviceId, String nodeName, Path file, String format, String qemuDevice, String cache,
        boolean discard, boolean readOnly, int bootIndex, Optional<List<Path>> backing) {
    /** QEMU rejects longer node names. */
    public static final int MAX_NODE_NAME = 31;

    public DiskAttachment {
        Objects.requireNonNull(deviceId, "deviceId");
        Objects.requireNonNull(nodeName, "nodeName");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(format, "format");
        backing = backing.map(List::copyOf);
        if ((nodeName + "-file").length() > MAX_NODE_NAME) {
            throw new IllegalArgumentException("block node name " + nodeName + "-file is longer than " + MAX_NODE_NAME);
        }
    }

    /** A disk whose backing chain is not pinned (not read yet, or not qcow2). */
    public DiskAttachment(String deviceId, String nodeName, Path file, String format, String qemuDevice, String cache,
            boolean discard, boolean readOnly, int bootIndex) {
        this(deviceId, nodeName, file, format, qemuDevice, cache, discard, readOnly, bootIndex, Optional.empty());
    }

    /** This disk with its backing chain pinned to {@code filesNearestFirst}. */
    public DiskAttachment withBacking(List<Path> filesNearestFirst) {
        return new DiskAttachment(deviceId, nodeName, file, format, qemuDevice, cache, discard, readOnly, bootIndex,
                Optional.of(filesNearestFirst));
    }

    /**
     * The node of the {@code n}th backing file under node {@code top} (1 the nearest):
     * {@code top-backing-n}, or, where that would pass QEMU's limit with its {@code -file} node,
     * {@code bN-HASH} with HASH derived from {@code top}. Stable, so Flattening finds them.
     */
    public static String backingNodeName(String top, int n) {
        String name = top + "-backing-" + n;
        if ((name + "-file").length() <= MAX_NODE_NAME) {
            return name;
        }
        String hash = UUID.nameUUIDFromBytes(top.getBytes(StandardCharsets.UTF_8)).toString().substring(0, 8);
        return "b" + n + "-" + hash;
    }

    public String fileNodeName() {
        return nodeName + "-file";
    }

    /** The host page cache is bypassed (O_DIRECT). */
    boolean cacheDirect() {
        return "none".equals(cache) || "directsync".equals(cache);
    }

    /** Flushes are ignored: fast, loses data on a host crash. */
    boolean cacheNoFlush() {
        return "unsafe".equals(cache);
    }

    /** The guest sees a write-back cache it must flush. */
    boolean writeCache() {
        return !"writethrough".equals(cache) && !"directsync".equals(cache);
    }
}

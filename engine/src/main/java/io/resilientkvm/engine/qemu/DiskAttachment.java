package io.resilientkvm.engine.qemu;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One disk as QEMU sees it: a {@code file} node {@code <nodeName>-file} under a format node
 * {@code nodeName}, behind a guest device {@code deviceId}. Node names and device ids are stable
 * so that the exporter finds the same disk, and the same backup folder, after every restart.
 *
 * @param cache     writeback, writethrough, none, directsync or unsafe (QEMU's -drive cache modes)
 * @param bootIndex boot order, or -1 for none
 */
public record DiskAttachment(String deviceId, String nodeName, Path file, String format, String qemuDevice, String cache,
        boolean discard, boolean readOnly, int bootIndex) {
    /** QEMU rejects longer node names. */
    public static final int MAX_NODE_NAME = 31;

    public DiskAttachment {
        Objects.requireNonNull(deviceId, "deviceId");
        Objects.requireNonNull(nodeName, "nodeName");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(format, "format");
        if ((nodeName + "-file").length() > MAX_NODE_NAME) {
            throw new IllegalArgumentException("block node name " + nodeName + "-file is longer than " + MAX_NODE_NAME);
        }
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

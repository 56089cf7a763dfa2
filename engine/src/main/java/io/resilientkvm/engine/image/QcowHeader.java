package io.resilientkvm.engine.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of a qcow2 header (QEMU's docs/interop/qcow2.txt) that decide what else qemu-img and
 * QEMU open: parsed from at most the first cluster, every offset and length bounded by it.
 * {@link #read} throws for anything malformed or unknown; what is merely unwanted (a backing
 * file, a data file) is reported as parsed, for {@link ImageInspector} to judge.
 *
 * @param version              2 or 3
 * @param headerLength         72 for version 2, else the header's own length field
 * @param clusterBits          9 to 21 (512 B to 2 MiB clusters)
 * @param virtualSize          the size the guest sees, in bytes
 * @param incompatibleFeatures the incompatible feature bits (version 3; 0 for version 2)
 * @param backingFile          the backing file name as written in the image, or null for none
 * @param backingFormat        the backing format header extension, or null when absent
 * @param dataFile             the external data file name extension, or null when absent
 * @param extensionTypes       the header extensions' types, in file order
 */
public record QcowHeader(int version, int headerLength, int clusterBits, long virtualSize, long incompatibleFeatures,
        String backingFile, String backingFormat, String dataFile, List<Long> extensionTypes) {
    /** "QFI\xfb". */
    public static final int MAGIC = 0x514649fb;
    /** Incompatible feature bit 0: refcounts may be inconsistent (lazy refcounts); qemu repairs it. */
    public static final long DIRTY = 1L;
    /** Bit 1: QEMU found corruption and marked the image. */
    public static final long CORRUPT = 1L << 1;
    /** Bit 2: guest data lives in an external data file, named by {@link #EXT_DATA_FILE}. */
    public static final long EXTERNAL_DATA_FILE = 1L << 2;
    /** Bit 3: a compression type other than zlib is in the header. */
    public static final long COMPRESSION_TYPE = 1L << 3;
    /** Bit 4: extended L2 entries (subclusters). */
    public static final long EXTENDED_L2 = 1L << 4;
    /** The incompatible bits this reader knows; any other is refused (qemu may give it a meaning we did not check). */
    public static final long KNOWN_INCOMPATIBLE = DIRTY | CORRUPT | EXTERNAL_DATA_FILE | COMPRESSION_TYPE | EXTENDED_L2;

    public static final long EXT_END = 0;
    public static final long EXT_BACKING_FORMAT = 0xe2792acaL;
    public static final long EXT_FEATURE_NAMES = 0x6803f857L;
    public static final long EXT_BITMAPS = 0x23852875L;
    public static final long EXT_ENCRYPTION = 0x0537be77L;
    public static final long EXT_DATA_FILE = 0x44415441L;

    static final int V2_LENGTH = 72;
    static final int V3_MIN_LENGTH = 104;
    static final int MIN_CLUSTER_BITS = 9;
    static final int MAX_CLUSTER_BITS = 21;
    /** qemu's limit on a backing file name. */
    static final int MAX_BACKING_NAME = 1023;
    /**
     * No disk here is near it, and qemu itself caps qcow2 images well below 2^63 bytes: a header
     * claiming more is forged or damaged.
     */
    public static final long MAX_VIRTUAL_SIZE = 1L << 50;

    public QcowHeader {
        extensionTypes = List.copyOf(extensionTypes);
    }

    public long clusterSize() {
        return 1L << clusterBits;
    }

    /**
     * Reads and parses the header of {@code file}, which must be a regular file (not a link, a
     * FIFO or a device: opening those could block or read something else); reads at most one
     * cluster (2 MiB).
     *
     * @throws MalformedException the header is not a sane qcow2 header; the message says why
     */
    public static QcowHeader read(Path file) throws IOException, MalformedException {
        BasicFileAttributes attrs = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isRegularFile()) {
            throw new MalformedException("not a regular file (" + (attrs.isSymbolicLink() ? "a symbolic link"
                    : attrs.isDirectory() ? "a folder" : "a FIFO, socket or device") + ")");
        }
        try (SeekableByteChannel ch = Files.newByteChannel(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long fileSize = ch.size();
            ByteBuffer fixed = readUpTo(ch, (int) Math.min(fileSize, V3_MIN_LENGTH));
            int clusterBits = fixed.limit() >= 24 ? fixed.getInt(20) : -1;
            if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
                // parse() names the problem (short file, bad magic or cluster size) from what was read.
                return parse(fixed, fileSize);
            }
            ch.position(0);
            return parse(readUpTo(ch, (int) Math.min(fileSize, 1L << clusterBits)), fileSize);
        }
    }

    private static ByteBuffer readUpTo(SeekableByteChannel ch, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining() && ch.read(b) >= 0) {
            // read until full or end of file
        }
        return b.flip().order(ByteOrder.BIG_ENDIAN);
    }

    /**
     * Parses a header from the start of an image: {@code head} holds the file's first bytes (up
     * to one cluster), {@code fileSize} the whole file's size.
     */
    static QcowHeader parse(ByteBuffer head, long fileSize) throws MalformedException {
        ByteBuffer b = head.duplicate().order(ByteOrder.BIG_ENDIAN);
        int n = b.limit();
        if (n < 4 || b.getInt(0) != MAGIC) {
            throw new MalformedException(n < 4 ? "truncated: " + fileSize + " bytes, not even a qcow2 magic"
                    : "not a qcow2 image (no QFI\\xfb magic)");
        }
        if (n < V2_LENGTH) {
            throw new MalformedException("truncated header: " + fileSize + " bytes, a qcow2 header needs at least "
                    + V2_LENGTH);
        }
        int version = b.getInt(4);
        if (version != 2 && version != 3) {
            throw new MalformedException("qcow2 version " + Integer.toUnsignedString(version) + " (only 2 and 3 exist)");
        }
        long backingOffset = b.getLong(8);
        long backingSize = Integer.toUnsignedLong(b.getInt(16));
        int clusterBits = b.getInt(20);
        if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
            throw new MalformedException("cluster_bits " + Integer.toUnsignedString(clusterBits) + " (qcow2 allows "
                    + MIN_CLUSTER_BITS + " to " + MAX_CLUSTER_BITS + ")");
        }
        long clusterSize = 1L << clusterBits;
        long virtualSize = b.getLong(24);
        if (virtualSize <= 0 || virtualSize > MAX_VIRTUAL_SIZE) {
            throw new MalformedException("virtual size " + Long.toUnsignedString(virtualSize) + " bytes (more than "
                    + MAX_VIRTUAL_SIZE + " or not positive)");
        }
        if (b.getInt(32) != 0) {
            throw new MalformedException("encrypted (crypt_method " + Integer.toUnsignedString(b.getInt(32))
                    + "); backups here are never encrypted");
        }
        int headerLength = V2_LENGTH;
        long incompatible = 0;
        if (version == 3) {
            if (n < V3_MIN_LENGTH) {
                throw new MalformedException("truncated header: " + fileSize + " bytes, a version 3 header needs at least "
                        + V3_MIN_LENGTH);
            }
            incompatible = b.getLong(72);
            long length = Integer.toUnsignedLong(b.getInt(100));
            if (length < V3_MIN_LENGTH || length % 8 != 0 || length > clusterSize) {
                throw new MalformedException("header_length " + length + " (at least " + V3_MIN_LENGTH
                        + ", a multiple of 8, within the first cluster of " + clusterSize + " bytes)");
            }
            headerLength = (int) length;
        }
        long unknown = incompatible & ~KNOWN_INCOMPATIBLE;
        if (unknown != 0) {
            throw new MalformedException("unknown incompatible feature bits 0x" + Long.toHexString(unknown));
        }
        if (fileSize < clusterSize || n < clusterSize) {
            throw new MalformedException("truncated: " + fileSize + " bytes, shorter than its first cluster ("
                    + clusterSize + " bytes) that holds the header");
        }
        // Extensions run from the header's end to the backing name (when there is one) or the cluster's end.
        long extEnd = clusterSize;
        String backingFile = null;
        if (backingOffset != 0) {
            if (backingSize == 0 || backingSize > MAX_BACKING_NAME) {
                throw new MalformedException("backing file name of " + backingSize + " bytes (1 to " + MAX_BACKING_NAME
                        + ")");
            }
            if (backingOffset < headerLength || backingOffset > clusterSize - backingSize) {
                throw new MalformedException("backing file name at offset " + Long.toUnsignedString(backingOffset)
                        + ", outside the first cluster after the header");
            }
            backingFile = string(b, (int) backingOffset, (int) backingSize);
            extEnd = backingOffset;
        } else if (backingSize != 0) {
            throw new MalformedException("backing file name of " + backingSize + " bytes at offset 0");
        }
        String backingFormat = null;
        String dataFile = null;
        List<Long> types = new ArrayList<>();
        long pos = headerLength;
        while (true) {
            if (pos + 8 > extEnd) {
                throw new MalformedException("header extensions run past offset " + extEnd + " without an end marker");
            }
            long type = Integer.toUnsignedLong(b.getInt((int) pos));
            long length = Integer.toUnsignedLong(b.getInt((int) pos + 4));
            if (type == EXT_END) {
                break;
            }
            long data = pos + 8;
            if (length > extEnd - data) {
                throw new MalformedException("header extension 0x" + Long.toHexString(type) + " of " + length
                        + " bytes at offset " + pos + " runs past offset " + extEnd);
            }
            types.add(type);
            if (type == EXT_BACKING_FORMAT) {
                backingFormat = string(b, (int) data, (int) length);
            } else if (type == EXT_DATA_FILE) {
                dataFile = string(b, (int) data, (int) length);
            }
            pos = data + ((length + 7) & ~7L);
        }
        return new QcowHeader(version, headerLength, clusterBits, virtualSize, incompatible, backingFile, backingFormat,
                dataFile, types);
    }

    private static String string(ByteBuffer b, int offset, int length) {
        byte[] bytes = new byte[length];
        b.get(offset, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** The file is not a sane qcow2 image. */
    public static final class MalformedException extends Exception {
        private static final long serialVersionUID = 1L;

        public MalformedException(String message) {
            super(message);
        }
    }
}

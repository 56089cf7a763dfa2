package io.resilientkvm.engine.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Decides in Java, from an image's first bytes, whether qemu may open it as qcow2 or as raw,
 * for images nobody vouches for (a download, an external disk at first attach). qemu-img's own
 * probe is never used: it would honour a VMDK descriptor's extents, a QED or qcow2 backing file,
 * whatever the bytes say.
 *
 * <p>qcow2 magic → qcow2, then {@link ImageInspector#inspect} standalone (no backing file, no data
 * file). A header of another format qemu knows (VMDK, VDI, VHD(X), QED, Parallels, cloop, Bochs)
 * → refused: those may name other files (VMDK extents, QED backing files), and a guest disk is
 * kept as qcow2 or raw here; convert such an image to qcow2 after checking it. Anything else →
 * raw: opened with {@code -f raw}, qemu reads no reference inside it.
 */
public final class FormatProbe {
    /** How much is read: a VMDK descriptor's extent lines sit in its first few hundred bytes. */
    static final int HEAD = 4096;

    private static final Pattern EXTENT = Pattern.compile(
            "(?m)^\\s*(RW|RDONLY|NOACCESS)\\s+\\d+\\s+(FLAT|SPARSE|ZERO|VMFS|VMFSSPARSE|VMFSRDM|VMFSRAW)(?:\\s+\"([^\"]*)\")?");

    private FormatProbe() {
    }

    /**
     * Reads the head of {@code file} (a regular file or a block device, after resolving links) and
     * returns {@code qcow2} (checked standalone) or {@code raw}.
     *
     * @param what how messages name the image, e.g. "the image downloaded from URL"
     * @throws UntrustedImageException another format, a FIFO/socket, or a qcow2 that refers to other files
     */
    public static String standaloneFormat(Path file, String what) throws IOException, UntrustedImageException {
        return format(file, what, real -> ImageInspector.inspect(real, ImageInspector.Expected.standalone(-1)));
    }

    /**
     * As {@link #standaloneFormat}, for a VM's disk at its first attach: a qcow2 may also be an
     * instant overlay on its restored chain in {@code deviceFolder} (after a promotion), checked
     * by {@link BackingChain}; nothing else it could name is accepted.
     */
    public static String attachedFormat(Path file, String what, Path deviceFolder) throws IOException,
            UntrustedImageException {
        return format(file, what, real -> BackingChain.under(real, deviceFolder));
    }

    /** What a qcow2 must pass besides its magic. */
    @FunctionalInterface
    private interface Qcow2Check {
        void check(Path real) throws IOException, UntrustedImageException;
    }

    private static String format(Path file, String what, Qcow2Check qcow2) throws IOException, UntrustedImageException {
        Path real = file.toRealPath();
        PosixFileAttributes attrs = Files.readAttributes(real, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isRegularFile() && !isBlockDevice(real)) {
            throw refused(file, what, "it is not a regular file or a block device (" + (attrs.isDirectory() ? "a folder"
                    : "a FIFO, socket or character device") + ")");
        }
        ByteBuffer head = ByteBuffer.allocate(HEAD);
        try (SeekableByteChannel ch = Files.newByteChannel(real, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            while (head.hasRemaining() && ch.read(head) >= 0) {
                // until full or end of file
            }
        }
        head.flip();
        byte[] b = new byte[head.remaining()];
        head.get(b);
        if (starts(b, 0, new byte[] {'Q', 'F', 'I', (byte) 0xfb})) {
            if (!attrs.isRegularFile()) {
                throw refused(file, what, "it is a qcow2 image on a block device; keep qcow2 disks in regular files,"
                        + " or declare the format raw if the qcow2 header was written by the guest");
            }
            try {
                qcow2.check(real);
            } catch (UntrustedImageException e) {
                throw new UntrustedImageException(what + ": " + e.getMessage());
            }
            return "qcow2";
        }
        String other = otherFormat(b);
        if (other != null) {
            throw refused(file, what, "it is " + other + "; only qcow2 and raw images are accepted: convert it yourself"
                    + " (qemu-img convert -f FORMAT -O qcow2) after checking that it refers to no other file");
        }
        return "raw";
    }

    /** The other qemu format {@code head} starts with, described with what it refers to, or null. */
    static String otherFormat(byte[] head) {
        String text = new String(head, StandardCharsets.ISO_8859_1);
        if (starts(head, 0, ascii("KDMV")) || starts(head, 0, ascii("COWD"))) {
            return "a VMDK sparse image" + extents(text);
        }
        if (text.startsWith("# Disk DescriptorFile") || text.contains("\ncreateType=") || EXTENT.matcher(text).find()) {
            return "a VMDK descriptor" + extents(text);
        }
        if (starts(head, 0, ascii("QED\0"))) {
            return "a QED image (it can name a backing file)";
        }
        if (starts(head, 0, ascii("vhdxfile"))) {
            return "a VHDX image";
        }
        if (starts(head, 0, ascii("conectix"))) {
            return "a VHD (vpc) image";
        }
        if (head.length >= 68 && (head[64] & 0xff) == 0x7f && (head[65] & 0xff) == 0x10 && (head[66] & 0xff) == 0xda
                && (head[67] & 0xff) == 0xbe) {
            return "a VDI image";
        }
        if (starts(head, 0, ascii("WithoutFreeSpace")) || starts(head, 0, ascii("WithouFreSpacExt"))) {
            return "a Parallels image";
        }
        if (text.startsWith("#!/bin/sh\n#V2.0 Format\nmodprobe cloop")) {
            return "a cloop image";
        }
        if (text.startsWith("Bochs Virtual HD Image")) {
            return "a Bochs image";
        }
        return null;
    }

    /** ", whose extents name ..." for the message: what qemu would have opened. */
    private static String extents(String text) {
        List<String> named = new ArrayList<>();
        Matcher m = EXTENT.matcher(text);
        while (m.find() && named.size() < 8) {
            named.add(m.group(2) + (m.group(3) == null ? "" : " '" + ImageInspector.printable(m.group(3)) + "'"
                    + (m.group(3).startsWith("/") ? " (an absolute host path)" : "")));
        }
        return named.isEmpty() ? "" : ", whose extents name " + String.join(", ", named);
    }

    private static boolean isBlockDevice(Path real) throws IOException {
        Object mode = Files.getAttribute(real, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return mode instanceof Integer i && (i & 0170000) == 0060000;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static boolean starts(byte[] b, int at, byte[] prefix) {
        if (b.length < at + prefix.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (b[at + i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static UntrustedImageException refused(Path file, String what, String why) {
        return new UntrustedImageException(what + " (" + file + "): " + why + ": refused, nothing was opened");
    }
}

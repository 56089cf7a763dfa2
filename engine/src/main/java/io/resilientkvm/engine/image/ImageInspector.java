package io.resilientkvm.engine.image;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Checks an image that came from elsewhere against what it must be, reading only its header in
 * Java: nothing the image names is opened. Called before any qemu-img or QEMU sees a repository
 * image, since both follow a backing file, its format and an external data file as written.
 */
public final class ImageInspector {
    /** A protocol prefix qemu would honour in a file name, e.g. {@code file:}, {@code nbd:}, {@code json:}. */
    private static final Pattern PROTOCOL = Pattern.compile("^[A-Za-z][A-Za-z0-9+.-]*:");

    private ImageInspector() {
    }

    /**
     * What an image must be.
     *
     * @param backingName the parent's file name in the same folder, or null for a standalone image
     * @param virtualSize the size the guest must see, or -1 when not known
     */
    public record Expected(String backingName, long virtualSize) {
        /** A qcow2 with no backing file (a full backup). */
        public static Expected standalone(long virtualSize) {
            return new Expected(null, virtualSize);
        }

        /** A qcow2 backed by exactly {@code parent} in its own folder, itself qcow2 (an incremental). */
        public static Expected backedBy(String parent, long virtualSize) {
            return new Expected(Objects.requireNonNull(parent, "parent"), virtualSize);
        }
    }

    /**
     * Reads {@code file}'s header and refuses it unless it is a sane qcow2 of the expected shape.
     *
     * @return the header read, for callers that want its fields
     * @throws UntrustedImageException what is wrong, naming the file and what it referred to
     * @throws IOException             the file could not be read
     */
    public static QcowHeader inspect(Path file, Expected expected) throws IOException, UntrustedImageException {
        QcowHeader h = readSane(file);
        if (expected.virtualSize() >= 0 && h.virtualSize() != expected.virtualSize()) {
            throw refused(file, "its header claims a virtual size of " + h.virtualSize() + " bytes, the manifest says "
                    + expected.virtualSize());
        }
        String backing = h.backingFile();
        if (expected.backingName() == null) {
            if (backing != null) {
                throw refused(file, "its backing file is '" + printable(backing) + "' (" + kind(backing)
                        + "), but it must have none");
            }
            return h;
        }
        String want = expected.backingName();
        if (!isPlainName(want)) {
            // The parent's name comes from a manifest: qemu must never be handed anything else.
            throw refused(file, "its parent's name '" + printable(want) + "' is not a plain file name in the same folder");
        }
        if (backing != null && backing.equals(file.getFileName().toString())) {
            throw refused(file, "its backing file is '" + printable(backing) + "', itself (a loop), not '" + want
                    + "' in the same folder");
        }
        if (backing == null) {
            throw refused(file, "it has no backing file, not '" + want + "' in the same folder");
        }
        if (!backing.equals(want)) {
            throw refused(file, "its backing file is '" + printable(backing) + "' (" + kind(backing) + "), not '" + want
                    + "' in the same folder");
        }
        if (h.backingFormat() == null) {
            throw refused(file, "it records no backing format, so qemu would guess the format of '" + want + "'");
        }
        if (!"qcow2".equals(h.backingFormat())) {
            throw refused(file, "its backing format is '" + printable(h.backingFormat()) + "', not qcow2");
        }
        return h;
    }

    /**
     * Reads {@code file}'s header and refuses it unless it is a sane qcow2 keeping its data
     * inside itself; its backing file, if any, is returned for the caller to judge.
     */
    static QcowHeader readSane(Path file) throws IOException, UntrustedImageException {
        QcowHeader h;
        try {
            h = QcowHeader.read(file);
        } catch (QcowHeader.MalformedException e) {
            throw refused(file, e.getMessage());
        }
        if ((h.incompatibleFeatures() & QcowHeader.EXTERNAL_DATA_FILE) != 0 || h.dataFile() != null) {
            throw refused(file, "it keeps its data in an external data file"
                    + (h.dataFile() == null ? "" : " '" + printable(h.dataFile()) + "'") + ", not inside itself");
        }
        if ((h.incompatibleFeatures() & QcowHeader.CORRUPT) != 0) {
            throw refused(file, "QEMU marked it corrupt (incompatible feature bit 1)");
        }
        return h;
    }

    /** True for a name that resolves inside its folder and that qemu reads as a plain file name. */
    public static boolean isPlainName(String name) {
        return !name.isEmpty() && !name.contains("/") && !name.equals(".") && !name.equals("..")
                && !PROTOCOL.matcher(name).find() && name.chars().noneMatch(c -> c < 0x20 || c == 0x7f);
    }

    /** True when qemu would read {@code name} as a protocol or pseudo-protocol ({@code json:}, {@code nbd:}, ...). */
    static boolean hasProtocol(String name) {
        return PROTOCOL.matcher(name).find();
    }

    /** What a backing name refers to, for the message. */
    static String kind(String name) {
        if (name.startsWith("json:")) {
            return "a json: pseudo-protocol";
        }
        if (name.startsWith("/")) {
            return "an absolute host path";
        }
        if (PROTOCOL.matcher(name).find()) {
            return "a '" + name.substring(0, name.indexOf(':') + 1).toLowerCase(Locale.ROOT) + "' protocol";
        }
        if (name.contains("/") || name.equals("..") || name.equals(".")) {
            return "a path, not a plain name in the same folder";
        }
        return "another file";
    }

    static UntrustedImageException refused(Path file, String why) {
        return new UntrustedImageException(file + ": " + why + ": refused, nothing was opened");
    }

    /** A name from an image, safe to print: control characters escaped, length bounded. */
    static String printable(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            if (out.length() >= 200) {
                return out + "…";
            }
            char c = s.charAt(i);
            out.append(c < 0x20 || c == 0x7f ? String.format("\\x%02x", (int) c) : String.valueOf(c));
        }
        return out.toString();
    }
}

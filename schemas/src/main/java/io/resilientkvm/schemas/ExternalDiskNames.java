package io.resilientkvm.schemas;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The QEMU-safe id of an {@code external-disk} entry, derived from its name. The seed system takes any
 * name ({@code "first disk"}); QEMU node names and device ids take letters, digits, {@code - . _}, begin
 * with a letter and stop at 31 characters ({@code disk-ID-file}). The id is recorded in
 * {@code etc/.data-disk-ids} and names the backup folder, so it must never change for a given name.
 *
 * <ul>
 * <li>A name of at most 20 letters, digits, {@code _} and {@code -}, starting with a letter or digit (the
 * only names accepted before) is its own id: existing instances keep their ids.</li>
 * <li>Any other name becomes its first 12 characters with each run of other characters replaced by
 * {@code _}, a {@code .} and the first 8 hex digits of the SHA-256 of the whole name:
 * {@code "first disk"} is {@code first_disk.<8 hex>}. The {@code .}, which plain names cannot hold, keeps
 * derived ids apart from plain ones; the hash keeps names that differ only in punctuation apart.</li>
 * </ul>
 */
public final class ExternalDiskNames {
    /** Names that are their own id (the pattern the schema enforced before any name was accepted). */
    static final Pattern PLAIN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,19}");
    private static final int SLUG = 12;
    private static final int HASH_HEX = 8;

    private ExternalDiskNames() {
    }

    /** Whether the schema accepts {@code name}: not empty, no control character. */
    static boolean printable(String name) {
        return !name.isEmpty() && name.chars().noneMatch(c -> c < 0x20 || c == 0x7f);
    }

    /** The id of the disk named {@code name}; QEMU's node is {@code disk-ID}, its file node {@code disk-ID-file}. */
    public static String qemuId(String name) {
        if (PLAIN.matcher(name).matches()) {
            return name;
        }
        String slug = name.replaceAll("[^A-Za-z0-9_-]+", "_").replaceAll("^[_-]+", "");
        if (slug.length() > SLUG) {
            slug = slug.substring(0, SLUG);
        }
        return (slug.isEmpty() ? "x" : slug) + "." + HexFormat.of().formatHex(sha256(name)).substring(0, HASH_HEX);
    }

    private static byte[] sha256(String name) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(name.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}

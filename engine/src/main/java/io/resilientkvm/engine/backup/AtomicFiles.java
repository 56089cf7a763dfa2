package io.resilientkvm.engine.backup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Durable publication, the only place that writes a file durably: data reaches the disk (fsync)
 * before a rename makes it visible, and the folder is synced after the rename, so a crash
 * leaves either the old state or the whole new file, never a half-written one.
 */
public final class AtomicFiles {
    public static final String TMP_SUFFIX = ".tmp";

    private static final Logger LOG = LoggerFactory.getLogger(AtomicFiles.class);
    /**
     * What fsync(2) of a folder answers on file systems that cannot sync one (procfs, some FUSE
     * and network file systems): EINVAL, ENOTSUP/EOPNOTSUPP. The rename is atomic there anyway.
     */
    private static final Set<String> UNSUPPORTED = Set.of("Invalid argument", "Operation not supported",
            "Not supported");

    private AtomicFiles() {
    }

    /** fsyncs {@code source}, renames it atomically onto {@code target} (replacing it) and fsyncs the folder. */
    public static void forceAndRename(Path source, Path target) throws IOException {
        force(source);
        Files.move(source, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory(parentOf(target));
    }

    /**
     * As {@link #forceAndRename}, but never replaces: a {@code target} that exists fails with
     * {@link java.nio.file.FileAlreadyExistsException} and {@code source} stays (for disks, which
     * are never overwritten).
     */
    public static void forceAndMoveNew(Path source, Path target) throws IOException {
        force(source);
        Files.move(source, target); // no REPLACE_EXISTING (an ATOMIC_MOVE would replace on Linux)
        syncDirectory(parentOf(target));
    }

    /** Writes {@code content} (UTF-8) to {@code target} through a synced temporary file and an atomic rename. */
    public static void writeAtomically(Path target, String content) throws IOException {
        writeAtomically(target, content.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Writes {@code content} to {@code target} through {@code <target>.tmp}, fsync, an atomic
     * rename (replacing {@code target}) and a folder fsync.
     *
     * @param attributes given: the temporary file is made anew with them (such as owner-only
     *                   permissions for a secret), so the file never exists with others
     */
    public static void writeAtomically(Path target, byte[] content, FileAttribute<?>... attributes)
            throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + TMP_SUFFIX);
        if (attributes.length > 0) {
            Files.deleteIfExists(tmp);
            Files.createFile(tmp, attributes);
        }
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buffer = ByteBuffer.wrap(content);
            while (buffer.hasRemaining()) {
                ch.write(buffer);
            }
            ch.force(true);
        } catch (IOException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory(parentOf(target));
    }

    /** Renames a file or folder atomically within its folder, then fsyncs that folder. */
    public static void renameDurably(Path source, Path target) throws IOException {
        Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
        syncDirectory(parentOf(target));
        if (!parentOf(source).equals(parentOf(target))) {
            syncDirectory(parentOf(source));
        }
    }

    /**
     * Creates {@code dir} and its missing parents, and fsyncs the folder holding each one it
     * created, so the new folders survive a power loss. Returns {@code dir}.
     */
    public static Path createDirectories(Path dir) throws IOException {
        Path absolute = dir.toAbsolutePath();
        Deque<Path> missing = new ArrayDeque<>();
        for (Path p = absolute; p != null && !Files.isDirectory(p); p = p.getParent()) {
            missing.push(p);
        }
        Files.createDirectories(absolute);
        for (Path created : missing) {
            syncDirectory(parentOf(created));
        }
        return dir;
    }

    /**
     * fsync of a folder, so that a rename or a new entry in it survives a power loss. Only a file
     * system that cannot sync a folder at all (EINVAL, ENOTSUP) is tolerated; any other failure
     * (EIO above all: the entry may be lost) is thrown.
     */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            try {
                ch.force(true);
            } catch (IOException e) {
                if (!isUnsupported(e)) {
                    throw new IOException("cannot fsync folder " + dir + ": " + e.getMessage(), e);
                }
                LOG.debug("the file system of {} cannot fsync a folder ({}); its renames are atomic all the same",
                        dir, e.getMessage());
            }
        }
    }

    /** True when {@code e} says the file system does not support fsync of a folder. */
    static boolean isUnsupported(IOException e) {
        return e.getMessage() != null && UNSUPPORTED.contains(e.getMessage().strip());
    }

    private static void force(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    private static Path parentOf(Path p) {
        Path parent = p.toAbsolutePath().getParent();
        if (parent == null) {
            throw new IllegalArgumentException(p + " has no parent folder");
        }
        return parent;
    }
}

package io.resilientkvm.engine.backup;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Durable publication: data reaches the disk (fsync) before a rename makes it visible, and
 * the folder is synced after the rename, so a crash leaves either nothing or the whole file.
 */
public final class AtomicFiles {
    public static final String TMP_SUFFIX = ".tmp";

    private AtomicFiles() {
    }

    /** fsyncs {@code source}, renames it atomically to {@code target} and fsyncs the folder. */
    public static void forceAndRename(Path source, Path target) throws IOException {
        try (FileChannel ch = FileChannel.open(source, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
        syncDirectory(target.getParent());
    }

    /** Writes {@code content} to {@code target} through a synced temporary file and an atomic rename. */
    public static void writeAtomically(Path target, String content) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + TMP_SUFFIX);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            var buffer = java.nio.ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8));
            while (buffer.hasRemaining()) {
                ch.write(buffer);
            }
            ch.force(true);
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        syncDirectory(target.getParent());
    }

    /** fsync of a folder, so that a rename in it survives a power loss (Linux allows it). */
    public static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Some file systems refuse to sync a folder; the rename is still atomic there.
            if (!Files.isDirectory(dir)) {
                throw e;
            }
        }
    }
}

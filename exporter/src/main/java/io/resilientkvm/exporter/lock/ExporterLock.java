package io.resilientkvm.exporter.lock;

import io.resilientkvm.engine.error.RefusedException;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * One exporter per repository (so per VM): an exclusive lock on {@code <target>/.exporter.lock}
 * whose file tells who holds it (pid, host, start time). The operating system releases the
 * lock when the holder dies, so a crash never leaves it stuck.
 */
public final class ExporterLock implements AutoCloseable {
    /** The lock file's name inside the repository. */
    public static final String FILE_NAME = ".exporter.lock";

    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private ExporterLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock without waiting.
     *
     * @throws RefusedException when another exporter holds it (the message names the holder)
     */
    public static ExporterLock acquire(Path target) throws IOException, RefusedException {
        Files.createDirectories(target);
        Path file = target.resolve(FILE_NAME);
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // held by this very process
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            String holder = readHolder(channel);
            channel.close();
            throw new RefusedException("another exporter is backing up into " + target + " (" + holder
                    + "); wait for it to finish, one exporter per VM");
        }
        try {
            channel.truncate(0);
            String me = "pid=" + ProcessHandle.current().pid() + " host=" + host() + " since=" + Instant.now() + "\n";
            channel.write(ByteBuffer.wrap(me.getBytes(StandardCharsets.UTF_8)), 0);
            channel.force(false);
        } catch (IOException e) {
            lock.release();
            channel.close();
            throw e;
        }
        return new ExporterLock(file, channel, lock);
    }

    private static String readHolder(FileChannel channel) {
        try {
            ByteBuffer buffer = ByteBuffer.allocate(512);
            channel.read(buffer, 0);
            String text = new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).strip();
            return text.isEmpty() ? "holder unknown" : "held by " + text;
        } catch (IOException e) {
            return "holder unreadable: " + e.getMessage();
        }
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown-host";
        }
    }

    public Path file() {
        return file;
    }

    /** Releases the lock; the file stays (removing it would race with the next exporter). */
    @Override
    public void close() throws IOException {
        try {
            if (lock.isValid()) {
                lock.release();
            }
        } finally {
            channel.close();
        }
    }
}

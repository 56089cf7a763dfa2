package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The lock that keeps a prune away from a restore: {@code <root>/.repository.lock}, taken
 * {@link Mode#SHARED} by restores (several at once) and {@link Mode#EXCLUSIVE} by a prune.
 * An OS file lock, so it is released by the OS if the process dies.
 *
 * <p>OS file locks belong to the process, and closing any descriptor of the file drops them
 * all; so one JVM keeps one channel per repository and counts its own holders here. The lock
 * file holds a line naming the last holder (pid, host, purpose, time) for refusal messages.
 */
public final class RepositoryLock implements AutoCloseable {
    /** The lock file's name in the repository root. */
    public static final String FILE = ".repository.lock";

    /** Restores share the repository; a prune needs it alone. */
    public enum Mode { SHARED, EXCLUSIVE }

    private static final Duration POLL = Duration.ofMillis(50);
    private static final Map<Path, State> STATES = new HashMap<>();

    /** This JVM's hold on one repository's lock file. Guarded by STATES. */
    private static final class State {
        FileChannel channel;
        boolean writable;
        FileLock osLock;
        int shared;
        boolean exclusive;
        final List<String> holders = new ArrayList<>();
    }

    private final Path file;
    private final Mode mode;
    private final String holder;
    private final AtomicBoolean closed = new AtomicBoolean();

    private RepositoryLock(Path file, Mode mode, String holder) {
        this.file = file;
        this.mode = mode;
        this.holder = holder;
    }

    /**
     * Takes the lock of the repository at {@code root}, waiting at most {@code wait}.
     *
     * @param purpose what the holder does, for the message another process gets (e.g. "restore of vda")
     * @throws RefusedException when it is still held in a conflicting mode after {@code wait}
     */
    public static RepositoryLock acquire(Path root, Mode mode, String purpose, Duration wait)
            throws RefusedException, OperationFailedException {
        Objects.requireNonNull(mode, "mode");
        Path file = root.toAbsolutePath().normalize().resolve(FILE);
        String holder = mode.name().toLowerCase() + " by pid " + ProcessHandle.current().pid() + " on " + host()
                + " for " + purpose + " since " + Instant.now();
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            String conflict;
            synchronized (STATES) {
                conflict = tryAcquire(file, mode, holder);
            }
            if (conflict == null) {
                return new RepositoryLock(file, mode, holder);
            }
            if (System.nanoTime() - deadline >= 0) {
                throw new RefusedException("repository " + root + " is locked (" + file + ") " + conflict
                        + "; " + (mode == Mode.EXCLUSIVE ? "a prune waits until restores finish; retry later"
                                : "a prune is removing old chains; retry in a moment")
                        + " (waited " + wait.toMillis() + " ms)");
            }
            try {
                TimeUnit.NANOSECONDS.sleep(Math.min(POLL.toNanos(), Math.max(1, deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new OperationFailedException("interrupted while waiting for the lock " + file, e);
            }
        }
    }

    /** Returns null when taken, else who holds it. Called under STATES. */
    private static String tryAcquire(Path file, Mode mode, String holder) throws OperationFailedException {
        State s = STATES.computeIfAbsent(file, f -> new State());
        if (s.exclusive || (mode == Mode.EXCLUSIVE && s.shared > 0)) {
            return "in this process: " + String.join("; ", s.holders);
        }
        if (mode == Mode.SHARED && s.shared > 0) {
            s.shared++;
            s.holders.add(holder);
            return null;
        }
        try {
            if (s.channel == null) {
                s.channel = open(file, mode);
            }
            FileLock lock;
            try {
                lock = s.channel.tryLock(0, Long.MAX_VALUE, mode == Mode.SHARED);
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                String other = readHolder(s.channel);
                closeChannel(s);
                STATES.remove(file);
                // The file names the last process that took the lock; with several sharers, one of them.
                return "by another process" + (other.isEmpty() ? "" : " (last taken " + other + ")");
            }
            s.osLock = lock;
            if (mode == Mode.SHARED) {
                s.shared = 1;
            } else {
                s.exclusive = true;
            }
            s.holders.add(holder);
            if (s.writable) {
                writeHolder(s.channel, holder);
            }
            return null;
        } catch (IOException e) {
            closeChannel(s);
            STATES.remove(file);
            throw new OperationFailedException("cannot lock " + file + ": " + e.getMessage()
                    + "; check that the repository folder exists and is writable", e);
        }
    }

    /**
     * Opens the lock file read-write; a restore (shared) from a repository it may not write
     * (another user's, a read-only mount) opens an existing lock file read-only, which a shared
     * lock allows. Called under STATES.
     */
    private static FileChannel open(Path file, Mode mode) throws IOException {
        try {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            STATES.get(file).writable = true;
            return ch;
        } catch (java.nio.file.FileSystemException e) {
            if (mode != Mode.SHARED || !java.nio.file.Files.isRegularFile(file)) {
                throw e;
            }
            STATES.get(file).writable = false;
            return FileChannel.open(file, StandardOpenOption.READ);
        }
    }

    private static String readHolder(FileChannel channel) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(1024);
        channel.read(buffer, 0);
        return new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8).strip();
    }

    private static void writeHolder(FileChannel channel, String holder) throws IOException {
        // Advisory text only: several sharers may overwrite each other, which is fine.
        channel.truncate(0);
        channel.write(ByteBuffer.wrap((holder + "\n").getBytes(StandardCharsets.UTF_8)), 0);
    }

    private static void closeChannel(State s) {
        try {
            if (s.channel != null) {
                s.channel.close();
            }
        } catch (IOException ignored) {
            // Closing releases the lock; nothing else to do.
        }
        s.channel = null;
        s.osLock = null;
    }

    public Mode mode() {
        return mode;
    }

    /** The lock file. */
    public Path file() {
        return file;
    }

    /** Releases this hold; the OS lock goes when the last holder in this JVM releases. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        synchronized (STATES) {
            State s = STATES.get(file);
            if (s == null) {
                return;
            }
            s.holders.remove(holder);
            if (mode == Mode.SHARED && --s.shared > 0) {
                return;
            }
            s.exclusive = false;
            s.shared = 0;
            try {
                if (s.osLock != null) {
                    s.osLock.release();
                }
            } catch (IOException ignored) {
                // Closing the channel below releases it anyway.
            }
            closeChannel(s);
            STATES.remove(file);
        }
    }

    private static String host() {
        return Host.NAME;
    }

    /** Looked up once: a slow resolver must not slow every lock. */
    private static final class Host {
        static final String NAME = lookup();
    }

    private static String lookup() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return ManagementFactory.getRuntimeMXBean().getName();
        }
    }
}

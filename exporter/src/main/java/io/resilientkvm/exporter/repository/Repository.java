package io.resilientkvm.exporter.repository;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.Sha256;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.lifecycle.PausePoint;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.AsynchronousFileChannel;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The on-disk backup repository of one VM:
 * {@code <root>/<device>/<chain>/FULL-<time>.qcow2}, then {@code INC-<time>.qcow2} files backed
 * by their predecessor through a relative name, each with its manifest {@code <file>.json}.
 * Files are written as {@code *.partial}, synced and renamed; the manifest comes last and marks
 * the backup complete. Times are UTC {@code yyyyMMdd'T'HHmmss.SSS'Z'}: they sort as text.
 */
public final class Repository {
    private static final Logger LOG = LoggerFactory.getLogger(Repository.class);
    /** Suffix of a backup file being written. */
    public static final String PARTIAL = BackupRepository.PARTIAL;
    /** Marker in a chain folder that forbids adding to it; holds the reason. */
    public static final String CLOSED_MARKER = BackupRepository.CLOSED_MARKER;

    private final Path root;
    private final BackupRepository reader;
    private final Clock clock;

    public Repository(Path root) {
        this(root, Clock.systemUTC());
    }

    Repository(Path root, Clock clock) {
        this.root = root.toAbsolutePath().normalize();
        this.reader = new BackupRepository(this.root);
        this.clock = clock;
    }

    public Path root() {
        return root;
    }

    /** The time stamp used in file and chain names. */
    public static String stamp(Instant t) {
        return BackupRepository.stamp(t);
    }

    /** The read side of this repository (also what the clones use). */
    public BackupRepository reader() {
        return reader;
    }

    /** The disks that have a folder here. */
    public List<String> devices() throws IOException {
        return reader.devices();
    }

    /** The chains of a disk, oldest first; none when the disk has no folder. */
    public List<Chain> chains(String device) throws IOException, BadInputException {
        return reader.chains(device);
    }

    /** The newest chain of a disk (the one new incrementals go to, if it is open). */
    public Optional<Chain> newestChain(String device) throws IOException, BadInputException {
        return reader.newestChain(device);
    }

    /** The newest complete backup of a disk. */
    public Optional<BackupManifest> newestBackup(String device) throws IOException, BadInputException {
        return reader.newestBackup(device);
    }

    /**
     * Removes what a crashed run left: {@code *.partial} files, temporary manifests, and backup
     * files without a manifest. A chain that had such leftovers is closed, since the crashed
     * job may have cleared its bitmap's bits: the next backup of that disk starts a new chain.
     *
     * @return the files removed
     */
    public List<Path> cleanStale() throws IOException {
        List<Path> removed = new ArrayList<>();
        for (Path deviceDir : subfolders(root)) {
            for (Path chainDir : subfolders(deviceDir)) {
                List<Path> stale;
                try (Stream<Path> files = Files.list(chainDir)) {
                    stale = files.filter(Repository::isStale).sorted().toList();
                }
                for (Path f : stale) {
                    LOG.warn("Removing {} left by an interrupted backup", f);
                    Files.deleteIfExists(f);
                    removed.add(f);
                }
                if (stale.isEmpty()) {
                    continue;
                }
                boolean hasBackups;
                try (Stream<Path> files = Files.list(chainDir)) {
                    hasBackups = files.anyMatch(f -> f.getFileName().toString().endsWith(BackupManifest.SUFFIX));
                }
                if (hasBackups) {
                    close(chainDir, "an interrupted backup left " + stale.get(0).getFileName()
                            + "; its job may have cleared the bitmap, so this chain takes no more incrementals");
                } else {
                    deleteEmptyChain(chainDir);
                }
            }
        }
        return removed;
    }

    /** A chain whose full never completed: nothing worth keeping, remove the folder. */
    private static void deleteEmptyChain(Path chainDir) throws IOException {
        LOG.warn("Removing chain folder {}: its full backup never completed", chainDir);
        Files.deleteIfExists(chainDir.resolve(CLOSED_MARKER));
        Files.delete(chainDir);
    }

    private static boolean isStale(Path f) {
        String name = f.getFileName().toString();
        if (name.endsWith(PARTIAL) || name.endsWith(AtomicFiles.TMP_SUFFIX)) {
            return true;
        }
        return name.endsWith(".qcow2") && !Files.exists(BackupManifest.manifestPath(f));
    }

    /** Closes a chain: no incremental will be added to it. */
    public void close(Chain chain, String reason) throws IOException {
        close(chain.dir(), reason);
    }

    private static void close(Path chainDir, String reason) throws IOException {
        LOG.warn("Closing backup chain {}: {}", chainDir, reason);
        AtomicFiles.writeAtomically(chainDir.resolve(CLOSED_MARKER), reason + "\n");
    }

    /**
     * Reserves the files of a new backup. A full opens a new chain folder named after its
     * time; an incremental goes to {@code parent}'s chain with the next sequence.
     */
    public PendingBackup begin(String device, Level level, Chain chain, String bitmapPrefix) throws IOException {
        Path deviceDir = root.resolve(device);
        AtomicFiles.createDirectories(deviceDir);
        if (level == Level.FULL) {
            String last = subfolders(deviceDir).stream().map(p -> p.getFileName().toString()).reduce((a, b) -> b)
                    .orElse("");
            Instant t = clock.instant();
            String chainId = stamp(t);
            while (chainId.compareTo(last) <= 0) {
                t = t.plusMillis(1);
                chainId = stamp(t);
            }
            Path chainDir = deviceDir.resolve(chainId);
            AtomicFiles.createDirectories(chainDir);
            Path file = chainDir.resolve("FULL-" + chainId + ".qcow2");
            return new PendingBackup(device, chainId, 0, level, file, partial(file), null, bitmapPrefix + chainId);
        }
        if (chain == null || !chain.isOpen()) {
            throw new IllegalArgumentException("an incremental needs an open chain with a full backup");
        }
        BackupManifest parent = chain.newest().orElseThrow();
        Instant t = clock.instant();
        Path file;
        while (true) {
            file = chain.dir().resolve("INC-" + stamp(t) + ".qcow2");
            if (!Files.exists(file) && !Files.exists(partial(file)) && file.getFileName().toString()
                    .compareTo(parent.file().replaceFirst("^FULL-", "INC-")) > 0) {
                break;
            }
            t = t.plusMillis(1);
        }
        return new PendingBackup(device, chain.chainId(), parent.sequence() + 1, level, file, partial(file),
                parent.file(), parent.bitmap());
    }

    private static Path partial(Path file) {
        return file.resolveSibling(file.getFileName() + PARTIAL);
    }

    /**
     * Publishes a written backup: syncs and renames the partial file, hashes it, then writes
     * the manifest (synced, renamed), which makes the backup complete.
     *
     * <p>The hash runs beside the fsync, both on the bytes QEMU left in the page cache once its
     * job concluded and the target node was closed: the file no longer changes, so hashing it
     * before it is on disk gives the same digest, and the manifest that publishes the digest is
     * still written only after the fsync and the rename. Hashing while the job runs is not
     * sound: QEMU rewrites qcow2 metadata (header, L1/L2 tables, refcounts) at earlier offsets
     * until the end, and SHA-256 cannot take bytes out of order. If anything fails here, the
     * backup's files are removed: a half-published backup never stays.
     */
    public BackupManifest complete(PendingBackup p, String instance, long virtualSize, long epoch, JobFigures job)
            throws IOException {
        try {
            String sha = hashWhileSyncing(p);
            PausePoint.reach(PausePoint.BEFORE_MANIFEST, p.device());
            long size = Files.size(p.file());
            BackupManifest m = new BackupManifest(BackupManifest.FORMAT_VERSION, instance, p.device(), p.chainId(),
                    p.sequence(), p.level(), p.file().getFileName().toString(), p.parent(), p.bitmap(), virtualSize,
                    size, sha, clock.instant(), job.startedAt(), job.finishedAt(), epoch, job.bytesTransferred(),
                    Math.max(0, job.finishedAt().toEpochMilli() - job.startedAt().toEpochMilli()));
            AtomicFiles.writeAtomically(BackupManifest.manifestPath(p.file()), m.toJson());
            return m;
        } catch (IOException | RuntimeException e) {
            removeQuietly(BackupManifest.manifestPath(p.file()).resolveSibling(
                    BackupManifest.manifestPath(p.file()).getFileName() + AtomicFiles.TMP_SUFFIX));
            removeQuietly(BackupManifest.manifestPath(p.file()));
            removeQuietly(p.file());
            removeQuietly(p.partialFile());
            throw e;
        }
    }

    /** fsync + rename in this thread, SHA-256 of the same open file in another; both must succeed. */
    private static String hashWhileSyncing(PendingBackup p) throws IOException {
        ExecutorService hasher = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "sha256-" + p.file().getFileName());
            t.setDaemon(true);
            return t;
        });
        try (AsynchronousFileChannel ch = AsynchronousFileChannel.open(p.partialFile(), StandardOpenOption.READ)) {
            long t0 = System.nanoTime();
            long[] hashNanos = new long[1];
            Future<String> sha = hasher.submit(() -> {
                String hex = Sha256.of(ch);
                hashNanos[0] = System.nanoTime() - t0;
                return hex;
            });
            try {
                AtomicFiles.forceAndRename(p.partialFile(), p.file());
            } catch (IOException | RuntimeException e) {
                sha.cancel(true);
                throw e;
            }
            long syncNanos = System.nanoTime() - t0;
            try {
                String hex = sha.get();
                LOG.info("{}: fsync and rename took {} ms, SHA-256 of {} MiB beside it {} ms", p.file().getFileName(),
                        syncNanos / 1_000_000, ch.size() >> 20, hashNanos[0] / 1_000_000);
                return hex;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                sha.cancel(true);
                throw new InterruptedIOException("interrupted while hashing " + p.file());
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                throw new IOException("cannot hash " + p.file() + ": " + e.getCause(), e.getCause());
            }
        } finally {
            hasher.shutdownNow();
        }
    }

    private static void removeQuietly(Path f) {
        try {
            Files.deleteIfExists(f);
        } catch (IOException e) {
            LOG.warn("Could not remove {} of a failed backup: {} (the next run removes it)", f, e.getMessage());
        }
    }

    /** Removes what a failed backup wrote; a new chain folder left empty goes too. */
    public void abandon(PendingBackup p) throws IOException {
        Files.deleteIfExists(p.partialFile());
        if (p.level() == Level.FULL) {
            Path chainDir = p.file().getParent();
            try (Stream<Path> files = Files.list(chainDir)) {
                if (files.findAny().isEmpty()) {
                    Files.delete(chainDir);
                }
            }
        }
    }

    private static List<Path> subfolders(Path dir) throws IOException {
        return BackupRepository.subfolders(dir);
    }
}

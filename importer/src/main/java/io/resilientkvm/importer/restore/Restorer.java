package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.backup.VerifyReport;
import io.resilientkvm.engine.disk.ImageInfo;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.image.TrustedChain;
import io.resilientkvm.engine.image.UntrustedImageException;
import io.resilientkvm.importer.restore.RestoreRequest.Format;
import io.resilientkvm.importer.restore.RestoreRequest.Verification;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Produces a disk as it was at a kept backup, without changing the repository's history.
 * <ul>
 * <li>{@link #materialize}: {@code qemu-img convert} of the point's file (its backing chain
 * pinned, see {@link QemuImg#convertChain}) into a standalone image, through {@code FILE.partial},
 * fsync and rename.</li>
 * <li>{@link #instant}: a qcow2 overlay backed by the point's file (absolute path), made in
 * milliseconds, plus a {@link Hold} so that the pruner keeps the chain until
 * {@link #release}d (after the overlay was flattened, see {@link #flatten}).</li>
 * </ul>
 * Both take the repository lock shared, so a prune never runs meanwhile, and verify the chain
 * up to the point first; a point that fails verification is refused ({@link RefusedException}).
 */
public final class Restorer {
    /** How long a restore waits for a running prune. */
    public static final Duration DEFAULT_LOCK_WAIT = Duration.ofSeconds(30);
    /** Converting a large disk on a busy host takes a while; a hung mount must still end. */
    public static final Duration DEFAULT_QEMU_IMG_TIMEOUT = Duration.ofHours(6);
    /** Hashing a large chain on a busy host takes a while; a hung mount must still end. */
    private static final Duration VERIFY_TIMEOUT = Duration.ofHours(6);

    private static final Logger LOG = LoggerFactory.getLogger(Restorer.class);
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'")
            .withZone(ZoneOffset.UTC);

    private final BackupRepository repository;
    private final Holds holds;
    private final QemuImg qemuImg;
    private final Duration lockWait;

    /** A restorer of the repository at {@code root} with {@link #DEFAULT_QEMU_IMG_TIMEOUT} and {@link #DEFAULT_LOCK_WAIT}. */
    public Restorer(Path root) {
        this(root, new QemuImg("qemu-img", DEFAULT_QEMU_IMG_TIMEOUT), DEFAULT_LOCK_WAIT);
    }

    public Restorer(Path root, QemuImg qemuImg, Duration lockWait) {
        this.repository = new BackupRepository(root);
        this.holds = new Holds(repository.root());
        this.qemuImg = Objects.requireNonNull(qemuImg, "qemuImg");
        this.lockWait = Objects.requireNonNull(lockWait, "lockWait");
    }

    public BackupRepository repository() {
        return repository;
    }

    public Holds holds() {
        return holds;
    }

    /** The disk to restore: {@code device} if given and present, else the only one. */
    public String device(Optional<String> device) throws IOException, BadInputException {
        requireRepository();
        List<String> devices = repository.devices();
        if (devices.isEmpty()) {
            throw new BadInputException("--repository " + repository.root() + ": holds no disk folder (no backup at all);"
                    + " check the path");
        }
        if (device.isPresent()) {
            if (!devices.contains(device.get())) {
                throw new BadInputException("--device " + device.get() + ": not in " + repository.root()
                        + "; it holds " + String.join(", ", devices));
            }
            return device.get();
        }
        if (devices.size() > 1) {
            throw new BadInputException("--device: missing; " + repository.root() + " holds several disks: "
                    + String.join(", ", devices) + "; choose one with --device NAME");
        }
        return devices.get(0);
    }

    /** Every complete backup of the disk, oldest first. */
    public List<RestorePoint> points(String device) throws IOException, BadInputException {
        List<RestorePoint> points = new ArrayList<>();
        for (Chain chain : repository.chains(device)) {
            for (BackupManifest b : chain.backups()) {
                points.add(new RestorePoint(chain, b));
            }
        }
        return points;
    }

    /**
     * The point {@code until} names (see {@link RestoreRequest#until()}), or the newest backup.
     */
    public RestorePoint choose(String device, Optional<String> until) throws IOException, BadInputException {
        List<RestorePoint> points = points(device);
        if (points.isEmpty()) {
            throw new BadInputException(repository.root().resolve(device) + ": no complete backup of " + device
                    + " (a backup is complete once its manifest exists)");
        }
        if (until.isEmpty()) {
            return points.get(points.size() - 1);
        }
        String u = until.get().strip();
        for (RestorePoint p : points) {
            if (p.name().equals(u) || p.backup().file().equals(u)) {
                return p;
            }
        }
        RestorePoint newestOfChain = null;
        for (RestorePoint p : points) {
            if (p.chain().chainId().equals(u)) {
                newestOfChain = p;
            }
        }
        if (newestOfChain != null) {
            return newestOfChain;
        }
        Optional<Instant> time = parseTime(u);
        if (time.isEmpty()) {
            throw new BadInputException("--until " + u + ": not a backup of " + device + " (file name, <chain>/<file> or chain)"
                    + " nor an ISO-8601 time such as 2026-11-24T10:00:00Z; 'bin/restore --list' shows the points");
        }
        RestorePoint chosen = null;
        for (RestorePoint p : points) {
            if (!p.time().isAfter(time.get())) {
                chosen = p;
            }
        }
        if (chosen == null) {
            throw new BadInputException("--until " + u + ": no backup of " + device + " at or before " + time.get()
                    + "; the oldest kept is " + points.get(0).name() + " at " + points.get(0).time());
        }
        return chosen;
    }

    /**
     * Writes the disk as of the chosen point into {@code request.output()} as a standalone image.
     *
     * @throws BadInputException        unknown disk or point, output folder missing or inside the repository
     * @throws RefusedException         the output exists (without force), the chain failed verification,
     *                                  or a prune holds the repository
     * @throws OperationFailedException qemu-img failed; no output is left behind
     */
    public RestoreResult materialize(RestoreRequest request) throws IOException, OperatorException {
        String device = device(request.device());
        Path output = checkOutput(request);
        try (RepositoryLock lock = RepositoryLock.acquire(repository.root(), RepositoryLock.Mode.SHARED,
                "restore of " + device + " to " + output, lockWait)) {
            RestorePoint point = choose(device, request.until());
            long t0 = System.nanoTime();
            // Structure first (milliseconds): a missing or truncated file is refused before any copy.
            List<String> warnings = verify(point, request.verification() == Verification.NONE ? Verification.NONE
                    : Verification.QUICK);
            TrustedChain trusted = trusted(point);
            double quickSeconds = (System.nanoTime() - t0) / 1e9;
            // The SHA-256 pass reads the same files as the convert: both run at once, and the
            // output is published only if the hashes match.
            FutureTask<VerifyReport> hashing = null;
            AtomicLong hashNanos = new AtomicLong();
            if (request.verification() == Verification.FULL) {
                Chain upToHere = point.chainUpToHere();
                hashing = new FutureTask<>(() -> {
                    long h0 = System.nanoTime();
                    try {
                        return ChainVerifier.verify(upToHere);
                    } finally {
                        hashNanos.set(System.nanoTime() - h0);
                    }
                });
                Thread thread = new Thread(hashing, "restore-verify-" + device);
                thread.setDaemon(true);
                thread.start();
            }
            Path partial = output.resolveSibling(output.getFileName() + ".partial");
            Files.deleteIfExists(partial);
            long t1 = System.nanoTime();
            double seconds;
            try {
                qemuImg.convertChain(trusted, partial, request.format().qemuName());
                long converted = System.nanoTime() - t1;
                if (hashing != null) {
                    VerifyReport report = await(hashing, point);
                    refuseIfBad(point, report);
                    warnings = report.warnings();
                }
                long t2 = System.nanoTime();
                publish(partial, output);
                // Writing the output: the convert, then fsync and rename (not the wait for the hashes).
                seconds = (converted + System.nanoTime() - t2) / 1e9;
            } finally {
                if (hashing != null) {
                    hashing.cancel(true); // no-op when done; stops the hashing when the convert failed
                }
                Files.deleteIfExists(partial);
            }
            double totalSeconds = (System.nanoTime() - t0) / 1e9;
            double verifySeconds = quickSeconds + hashNanos.get() / 1e9;
            RestoreResult result = new RestoreResult(point, output, request.format(), false, Optional.empty(),
                    point.backup().virtualSize(), Files.size(output), verifySeconds, seconds, totalSeconds, warnings);
            LOG.info("restored {} {} ({}) into {} as {}: {} bytes in {} s (convert+fsync {} s, verification {} s alongside)",
                    device, point.name(), point.time(), output, request.format().qemuName(), result.virtualSize(),
                    String.format("%.2f", totalSeconds), String.format("%.2f", seconds), String.format("%.2f", verifySeconds));
            return result;
        }
    }

    private VerifyReport await(FutureTask<VerifyReport> hashing, RestorePoint point) throws OperationFailedException {
        try {
            return hashing.get(VERIFY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OperationFailedException("interrupted while verifying " + point.device() + " " + point.name(), e);
        } catch (TimeoutException e) {
            throw new OperationFailedException("verifying " + point.device() + " " + point.name() + " did not finish within "
                    + VERIFY_TIMEOUT + "; check the storage holding " + point.chain().dir(), e);
        } catch (ExecutionException e) {
            throw new OperationFailedException("cannot verify " + point.device() + " " + point.name() + ": "
                    + e.getCause().getMessage() + "; check the storage holding " + point.chain().dir(), e.getCause());
        }
    }

    /**
     * Creates a qcow2 overlay at {@code request.output()} backed by the point's file, and a hold
     * that keeps the chain from being pruned until {@link #release}. Writes go to the overlay;
     * the chain stays unchanged. Same exceptions as {@link #materialize}.
     */
    public RestoreResult instant(RestoreRequest request) throws IOException, OperatorException {
        if (request.format() != Format.QCOW2) {
            throw new BadInputException("--format " + request.format().qemuName() + ": an instant restore is a qcow2 overlay"
                    + " on the chain; use --format qcow2, or leave out --instant for a standalone raw image");
        }
        String device = device(request.device());
        Path output = checkOutput(request);
        try (RepositoryLock lock = RepositoryLock.acquire(repository.root(), RepositoryLock.Mode.SHARED,
                "instant restore of " + device + " to " + output, lockWait)) {
            RestorePoint point = choose(device, request.until());
            long t0 = System.nanoTime();
            List<String> warnings = verify(point, request.verification());
            TrustedChain trusted = trusted(point);
            double verifySeconds = (System.nanoTime() - t0) / 1e9;
            long t1 = System.nanoTime();
            Hold hold = new Hold(newId(device), device, point.chain().chainId(), point.backup().file(), output,
                    Instant.now(), ProcessHandle.current().pid(), hostName());
            // The hold comes first: an overlay must never exist without the chain being protected.
            holds.add(hold);
            Path partial = output.resolveSibling(output.getFileName() + ".partial");
            boolean done = false;
            try {
                Files.deleteIfExists(partial);
                qemuImg.createOverlay(partial, trusted);
                publish(partial, output);
                done = true;
            } finally {
                Files.deleteIfExists(partial);
                if (!done) {
                    holds.remove(hold);
                }
            }
            // The overlay we replaced (--force) no longer reads from its chain.
            for (Hold old : holds.list()) {
                if (old.overlay().equals(output) && !old.id().equals(hold.id())) {
                    holds.remove(old);
                }
            }
            double seconds = (System.nanoTime() - t1) / 1e9;
            LOG.info("instant restore of {} {} ({}) as overlay {} in {} ms (hold {})", device, point.name(), point.time(),
                    output, String.format("%.1f", seconds * 1000), hold.id());
            return new RestoreResult(point, output, Format.QCOW2, true, Optional.of(hold), point.backup().virtualSize(),
                    Files.size(output), verifySeconds, seconds, (System.nanoTime() - t0) / 1e9, warnings);
        }
    }

    /**
     * Releases the hold named by its id or overlay path. Refused while the overlay still exists
     * and reads from the repository (flatten or delete it first) unless {@code force}.
     */
    public Hold release(String idOrOverlay, boolean force) throws IOException, OperatorException {
        Hold hold = findHold(idOrOverlay);
        if (!force && Files.exists(hold.overlay())) {
            ImageInfo info = qemuImg.info(hold.overlay());
            if (info.backingFile() != null && readsFromRepository(hold.overlay(), info.backingFile())) {
                throw new RefusedException("hold " + hold.id() + ": overlay " + hold.overlay() + " still reads from "
                        + info.backingFile() + " (chain " + hold.device() + "/" + hold.chainId() + "); flatten it first"
                        + " ('bin/restore --flatten " + hold.id() + "' when no VM uses it, QEMU block-stream while one does)"
                        + " or delete it; --force releases anyway and the chain may then be pruned under it");
            }
        }
        holds.remove(hold);
        LOG.info("released hold {} on {}/{} (overlay {})", hold.id(), hold.device(), hold.chainId(), hold.overlay());
        return hold;
    }

    /**
     * Makes a held overlay standalone ({@code qemu-img rebase -b ""}: the data it reads from the
     * chain is copied into it) and releases its hold. Fails while a VM uses the overlay: use
     * QEMU's {@code block-stream} then, and {@link #release} after.
     */
    public Hold flatten(String idOrOverlay) throws IOException, OperatorException {
        Hold hold = findHold(idOrOverlay);
        if (!Files.exists(hold.overlay())) {
            throw new BadInputException("hold " + hold.id() + ": overlay " + hold.overlay() + " does not exist;"
                    + " release the hold with --release " + hold.id());
        }
        // qemu-img rebase reads the chain through the names in its headers: check them first.
        trusted(heldPoint(hold));
        long t0 = System.nanoTime();
        qemuImg.flatten(hold.overlay());
        holds.remove(hold);
        LOG.info("flattened {} in {} s and released hold {}", hold.overlay(),
                String.format("%.2f", (System.nanoTime() - t0) / 1e9), hold.id());
        return hold;
    }

    private RestorePoint heldPoint(Hold hold) throws IOException, BadInputException, RefusedException {
        for (RestorePoint p : points(hold.device())) {
            if (p.chain().chainId().equals(hold.chainId()) && p.backup().file().equals(hold.file())) {
                return p;
            }
        }
        throw new RefusedException("hold " + hold.id() + ": its point " + hold.device() + "/" + hold.chainId() + "/"
                + hold.file() + " is no longer in " + repository.root() + "; the overlay " + hold.overlay()
                + " cannot be flattened from it");
    }

    /** True when {@code backing} (as recorded in the overlay: absolute, or relative to its folder) lies in the repository. */
    private boolean readsFromRepository(Path overlay, String backing) {
        Path b = overlay.toAbsolutePath().getParent().resolve(backing).normalize();
        return b.startsWith(repository.root());
    }

    private Hold findHold(String idOrOverlay) throws IOException, BadInputException {
        requireRepository();
        return holds.find(idOrOverlay).orElseThrow(() -> new BadInputException("--release/--flatten " + idOrOverlay
                + ": no such hold (id or overlay path) in " + holds.dir() + "; 'bin/restore --holds' lists them"));
    }

    private List<String> verify(RestorePoint point, Verification verification) throws IOException, RefusedException {
        if (verification == Verification.NONE) {
            LOG.warn("restoring {} {} without verifying its chain (--no-verify)", point.device(), point.name());
            return List.of();
        }
        Chain upToHere = point.chainUpToHere();
        VerifyReport report = verification == Verification.FULL ? ChainVerifier.verify(upToHere)
                : ChainVerifier.verifyWithoutHashes(upToHere);
        refuseIfBad(point, report);
        return report.warnings();
    }

    /**
     * The chain up to the point, every header checked in Java: also with --no-verify, since
     * qemu-img and QEMU follow what the headers name (see docs/history.md, "What a clone trusts").
     */
    private static TrustedChain trusted(RestorePoint point) throws IOException, RefusedException {
        try {
            return ChainVerifier.trusted(point.chainUpToHere());
        } catch (UntrustedImageException e) {
            throw new RefusedException("refusing to restore " + point.device() + " at " + point.name() + ": "
                    + e.getMessage() + "; a backup that names other files is not restored even with --no-verify", e);
        }
    }

    private static void refuseIfBad(RestorePoint point, VerifyReport report) throws RefusedException {
        if (!report.ok()) {
            List<String> lines = new ArrayList<>();
            lines.add("refusing to restore " + point.device() + " at " + point.name() + ": its chain failed verification:");
            report.problems().forEach(p -> lines.add("  " + p));
            lines.add("choose an intact point with --until (bin/restore --list), or --no-verify to restore it anyway"
                    + " (never a point whose header was refused)");
            throw new RefusedException(String.join(System.lineSeparator(), lines));
        }
    }

    private Path checkOutput(RestoreRequest request) throws BadInputException, RefusedException {
        Path output = request.output().toAbsolutePath().normalize();
        Path parent = output.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new BadInputException("--output " + output + ": folder " + parent + " does not exist; create it first");
        }
        if (output.startsWith(repository.root())) {
            throw new BadInputException("--output " + output + ": inside the repository " + repository.root()
                    + ", which a restore never changes; write it elsewhere");
        }
        if (Files.isDirectory(output)) {
            throw new BadInputException("--output " + output + ": is a folder; give a file name");
        }
        if (Files.exists(output) && !Files.isRegularFile(output)) {
            throw new BadInputException("--output " + output + ": not a regular file; restoring onto a device is not"
                    + " supported: restore into a file, then copy it (qemu-img convert -n FILE DEVICE)");
        }
        if (Files.exists(output) && !request.force()) {
            throw new RefusedException("--output " + output + ": exists; refusing to overwrite it (--force replaces it)");
        }
        return output;
    }

    private void requireRepository() throws BadInputException {
        if (!Files.isDirectory(repository.root())) {
            throw new BadInputException("--repository " + repository.root() + ": not a folder; give the backup repository");
        }
    }

    /** fsync then rename over the target (replacing it when forced), then fsync the folder. */
    private static void publish(Path partial, Path output) throws IOException {
        try (FileChannel ch = FileChannel.open(partial, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(partial, output, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        io.resilientkvm.engine.backup.AtomicFiles.syncDirectory(output.getParent());
    }

    private static String newId(String device) {
        byte[] random = new byte[4];
        ThreadLocalRandom.current().nextBytes(random);
        return device.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + STAMP.format(Instant.now()) + "-"
                + HexFormat.of().formatHex(random);
    }

    private static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** An ISO-8601 instant, offset date-time, local date-time (UTC) or repository stamp. */
    static Optional<Instant> parseTime(String text) {
        try {
            return Optional.of(Instant.parse(text));
        } catch (DateTimeParseException e) {
            // try the next form
        }
        try {
            return Optional.of(OffsetDateTime.parse(text).toInstant());
        } catch (DateTimeParseException e) {
            // try the next form
        }
        try {
            return Optional.of(LocalDateTime.parse(text).toInstant(ZoneOffset.UTC));
        } catch (DateTimeParseException e) {
            // try the next form
        }
        try {
            return Optional.of(Instant.from(STAMP.parse(text)));
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }
}

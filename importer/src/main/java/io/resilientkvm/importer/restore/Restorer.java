package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.image.TrustedChain;
import io.resilientkvm.importer.restore.RestoreRequest.Format;
import io.resilientkvm.importer.restore.RestoreRequest.Verification;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
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
 * up to the point first ({@link ChainCheck}); a point that fails verification is refused, and so,
 * whatever the verification, is a point whose headers name other files than their parents.
 * Which disk and point: {@link RestorePoints}; where it goes: {@link RestoreOutput}; holds:
 * {@link HeldOverlays}. What went wrong is a {@link RestoreProblem} (in a
 * {@link RestoreInputException} or {@link RestoreRefusedException}), which a command phrases
 * in its own options.
 */
public final class Restorer {
    /** How long a restore waits for a running prune. */
    public static final Duration DEFAULT_LOCK_WAIT = Duration.ofSeconds(30);
    /** Converting a large disk on a busy host takes a while; a hung mount must still end. */
    public static final Duration DEFAULT_QEMU_IMG_TIMEOUT = Duration.ofHours(6);

    private static final Logger LOG = LoggerFactory.getLogger(Restorer.class);

    private final BackupRepository repository;
    private final Holds holds;
    private final QemuImg qemuImg;
    private final Duration lockWait;
    private final RestorePoints points;
    private final HeldOverlays held;

    /** A restorer of the repository at {@code root} with {@link #DEFAULT_QEMU_IMG_TIMEOUT} and {@link #DEFAULT_LOCK_WAIT}. */
    public Restorer(Path root) {
        this(root, new QemuImg("qemu-img", DEFAULT_QEMU_IMG_TIMEOUT), DEFAULT_LOCK_WAIT);
    }

    public Restorer(Path root, QemuImg qemuImg, Duration lockWait) {
        this.repository = new BackupRepository(root);
        this.holds = new Holds(repository.root());
        this.qemuImg = Objects.requireNonNull(qemuImg, "qemuImg");
        this.lockWait = Objects.requireNonNull(lockWait, "lockWait");
        this.points = new RestorePoints(repository);
        this.held = new HeldOverlays(repository.root(), holds, qemuImg, points);
    }

    public BackupRepository repository() {
        return repository;
    }

    public Holds holds() {
        return holds;
    }

    /** The disks of the repository, after checking that it is one (not the folder of a disk or of a chain). */
    public List<String> devices() throws IOException, BadInputException {
        return points.devices();
    }

    /** The disk to restore: {@code device} if given and present, else the only one. */
    public String device(Optional<String> device) throws IOException, BadInputException {
        return points.device(device);
    }

    /** Every complete backup of the disk, oldest first. */
    public List<RestorePoint> points(String device) throws IOException, BadInputException {
        return points.points(device);
    }

    /** The point {@code until} names (see {@link RestoreRequest#until()}), or the newest backup. */
    public RestorePoint choose(String device, Optional<String> until) throws IOException, BadInputException {
        return points.choose(device, until);
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
        String device = points.device(request.device());
        Path output = RestoreOutput.check(request, repository.root());
        try (RepositoryLock lock = RepositoryLock.acquire(repository.root(), RepositoryLock.Mode.SHARED,
                "restore of " + device + " to " + output, lockWait)) {
            RestorePoint point = points.choose(device, request.until());
            long t0 = System.nanoTime();
            // Headers first, in Java: nothing opens a file whose header names another one.
            TrustedChain trusted = ChainCheck.trusted(point);
            // Structure next (milliseconds): a missing or truncated file is refused before any copy.
            List<String> warnings = ChainCheck.verify(point, request.verification() == Verification.NONE
                    ? Verification.NONE : Verification.QUICK);
            double quickSeconds = (System.nanoTime() - t0) / 1e9;
            Path partial = RestoreOutput.partial(output);
            // The SHA-256 pass reads the same files as the convert: both run at once, and the
            // output is published only if the hashes match.
            ChainCheck.Background hashing = request.verification() == Verification.FULL
                    ? new ChainCheck.Background(point) : null;
            long t1 = System.nanoTime();
            double seconds;
            try {
                qemuImg.convertChain(trusted, partial, request.format().qemuName());
                long converted = System.nanoTime() - t1;
                if (hashing != null) {
                    warnings = hashing.awaitIntact();
                }
                long t2 = System.nanoTime();
                RestoreOutput.publish(partial, output);
                // Writing the output: the convert, then fsync and rename (not the wait for the hashes).
                seconds = (converted + System.nanoTime() - t2) / 1e9;
            } finally {
                if (hashing != null) {
                    hashing.close();
                }
                Files.deleteIfExists(partial);
            }
            double totalSeconds = (System.nanoTime() - t0) / 1e9;
            double verifySeconds = quickSeconds + (hashing == null ? 0 : hashing.seconds());
            RestoreResult result = new RestoreResult(point, output, request.format(), false, Optional.empty(),
                    point.backup().virtualSize(), Files.size(output), verifySeconds, seconds, totalSeconds, warnings);
            LOG.info("restored {} {} ({}) into {} as {}: {} bytes in {} s (convert+fsync {} s, verification {} s alongside)",
                    device, point.name(), point.time(), output, request.format().qemuName(), result.virtualSize(),
                    String.format("%.2f", totalSeconds), String.format("%.2f", seconds), String.format("%.2f", verifySeconds));
            return result;
        }
    }

    /**
     * Creates a qcow2 overlay at {@code request.output()} backed by the point's file, and a hold
     * that keeps the chain from being pruned until {@link #release}. Writes go to the overlay;
     * the chain stays unchanged. Same exceptions as {@link #materialize}.
     */
    public RestoreResult instant(RestoreRequest request) throws IOException, OperatorException {
        if (request.format() != Format.QCOW2) {
            throw new RestoreInputException(new RestoreProblem.InstantNeedsQcow2(request.format()));
        }
        String device = points.device(request.device());
        Path output = RestoreOutput.check(request, repository.root());
        try (RepositoryLock lock = RepositoryLock.acquire(repository.root(), RepositoryLock.Mode.SHARED,
                "instant restore of " + device + " to " + output, lockWait)) {
            RestorePoint point = points.choose(device, request.until());
            long t0 = System.nanoTime();
            TrustedChain trusted = ChainCheck.trusted(point);
            List<String> warnings = ChainCheck.verify(point, request.verification());
            double verifySeconds = (System.nanoTime() - t0) / 1e9;
            long t1 = System.nanoTime();
            Hold hold = HeldOverlays.newHold(point, output);
            // The hold comes first: an overlay must never exist without the chain being protected.
            holds.add(hold);
            boolean done = false;
            Path partial = null;
            try {
                partial = RestoreOutput.partial(output);
                qemuImg.createOverlay(partial, trusted);
                RestoreOutput.publish(partial, output);
                done = true;
            } finally {
                if (partial != null) {
                    Files.deleteIfExists(partial);
                }
                if (!done) {
                    holds.remove(hold);
                }
            }
            // The overlay we replaced (forced) no longer reads from its chain.
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
        return held.release(idOrOverlay, force);
    }

    /**
     * Makes a held overlay standalone ({@code qemu-img rebase -b ""}: the data it reads from the
     * chain is copied into it) and releases its hold. Fails while a VM uses the overlay: use
     * QEMU's {@code block-stream} then, and {@link #release} after.
     */
    public Hold flatten(String idOrOverlay) throws IOException, OperatorException {
        return held.flatten(idOrOverlay);
    }
}

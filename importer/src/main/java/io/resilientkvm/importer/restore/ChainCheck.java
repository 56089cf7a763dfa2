package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.backup.VerifyReport;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.image.TrustedChain;
import io.resilientkvm.engine.image.UntrustedImageException;
import io.resilientkvm.importer.restore.RestoreRequest.Verification;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the chain up to a point is intact: structure only (sizes, qemu-img check, backing
 * names: milliseconds) or with every file's SHA-256, which may run alongside the copy.
 */
final class ChainCheck {
    /** Hashing a large chain on a busy host takes a while; a hung mount must still end. */
    private static final Duration VERIFY_TIMEOUT = Duration.ofHours(6);
    private static final Logger LOG = LoggerFactory.getLogger(ChainCheck.class);

    private ChainCheck() {
    }

    /** Verifies now; returns the warnings, refuses a damaged chain. */
    static List<String> verify(RestorePoint point, Verification verification) throws IOException, RefusedException {
        if (verification == Verification.NONE) {
            LOG.warn("restoring {} {} without verifying its chain (verification off)", point.device(), point.name());
            return List.of();
        }
        Chain upToHere = point.chainUpToHere();
        VerifyReport report = verification == Verification.FULL ? ChainVerifier.verify(upToHere)
                : ChainVerifier.verifyWithoutHashes(upToHere);
        refuseIfBad(point, report);
        return report.warnings();
    }

    /**
     * The chain up to the point, every header checked in Java: also without verification, since
     * qemu-img and QEMU follow what the headers name (see docs/history.md, "What a clone trusts").
     */
    static TrustedChain trusted(RestorePoint point) throws IOException, RefusedException {
        try {
            return ChainVerifier.trusted(point.chainUpToHere());
        } catch (UntrustedImageException e) {
            throw new RestoreRefusedException(new RestoreProblem.UntrustedPoint(point.device(), point.name(),
                    e.getMessage()));
        }
    }

    static void refuseIfBad(RestorePoint point, VerifyReport report) throws RefusedException {
        if (!report.ok()) {
            throw new RestoreRefusedException(new RestoreProblem.ChainDamaged(point.device(), point.name(),
                    report.problems()));
        }
    }

    /** The SHA-256 pass of a point's chain on its own thread, so that it runs alongside the convert. */
    static final class Background implements AutoCloseable {
        private final RestorePoint point;
        private final FutureTask<VerifyReport> hashing;
        private final AtomicLong nanos = new AtomicLong();

        Background(RestorePoint point) {
            this.point = point;
            Chain upToHere = point.chainUpToHere();
            this.hashing = new FutureTask<>(() -> {
                long h0 = System.nanoTime();
                try {
                    return ChainVerifier.verify(upToHere);
                } finally {
                    nanos.set(System.nanoTime() - h0);
                }
            });
            Thread thread = new Thread(hashing, "restore-verify-" + point.device());
            thread.setDaemon(true);
            thread.start();
        }

        /** Waits for the hashes; returns the warnings, refuses a damaged chain. */
        List<String> awaitIntact() throws OperationFailedException, RefusedException {
            VerifyReport report;
            try {
                report = hashing.get(VERIFY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new OperationFailedException("interrupted while verifying " + point.device() + " " + point.name(),
                        e);
            } catch (TimeoutException e) {
                throw new OperationFailedException("verifying " + point.device() + " " + point.name() + " did not"
                        + " finish within " + VERIFY_TIMEOUT + "; check the storage holding " + point.chain().dir(), e);
            } catch (ExecutionException e) {
                throw new OperationFailedException("cannot verify " + point.device() + " " + point.name() + ": "
                        + e.getCause().getMessage() + "; check the storage holding " + point.chain().dir(), e.getCause());
            }
            refuseIfBad(point, report);
            return report.warnings();
        }

        /** How long the hashing ran. */
        double seconds() {
            return nanos.get() / 1e9;
        }

        /** Stops the hashing when the convert failed; a no-op once it is done. */
        @Override
        public void close() {
            hashing.cancel(true);
        }
    }
}

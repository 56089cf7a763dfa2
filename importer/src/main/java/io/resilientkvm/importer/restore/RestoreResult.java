package io.resilientkvm.importer.restore;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The outcome of a restore.
 *
 * @param point         the backup restored
 * @param output        the image written (or the overlay created)
 * @param format        the output's format
 * @param instant       true for an overlay on the chain, false for a standalone image
 * @param hold          the hold protecting the chain (instant mode only)
 * @param virtualSize   the disk's size in bytes
 * @param outputSize    the output file's size in bytes
 * @param verifySeconds time spent verifying the chain (for a materialize with full verification, the
 *                      hashing runs alongside the convert: it overlaps {@code seconds})
 * @param seconds       time spent writing the output (convert or overlay creation, fsync, rename)
 * @param totalSeconds  the whole restore, from the chosen point to the published output
 * @param warnings      harmless findings of the verification (leaked clusters)
 */
public record RestoreResult(RestorePoint point, Path output, RestoreRequest.Format format, boolean instant,
        Optional<Hold> hold, long virtualSize, long outputSize, double verifySeconds, double seconds, double totalSeconds,
        List<String> warnings) {
    public RestoreResult {
        warnings = List.copyOf(warnings);
    }

    /** Throughput of the whole restore over the disk's virtual size, MB/s (10^6 bytes). */
    public double mbPerSecond() {
        return totalSeconds <= 0 ? 0 : virtualSize / 1e6 / totalSeconds;
    }
}

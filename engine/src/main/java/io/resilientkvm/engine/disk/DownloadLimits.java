package io.resilientkvm.engine.disk;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What a node lets {@code virtual-hard-drive-url} do (node configuration {@code downloads}).
 *
 * @param maxBytes  the most bytes a download may bring, counted both as received and after gunzip
 *                  ({@code downloads.max-bytes}); the partial file is removed when it is reached
 * @param deadline  how long a whole download may take, retries included ({@code downloads.deadline-seconds})
 * @param fileRoots the directories {@code file:} URLs may read from, symbolic links resolved
 *                  ({@code downloads.file-roots}); empty refuses every {@code file:} URL
 */
public record DownloadLimits(long maxBytes, Duration deadline, List<Path> fileRoots) {
    /** 1 TiB: well above any disk here, far below a filled host. */
    public static final long DEFAULT_MAX_BYTES = 1L << 40;
    public static final Duration DEFAULT_DEADLINE = Duration.ofHours(2);
    /** No file: URL, a 1 TiB cap, 2 hours. */
    public static final DownloadLimits DEFAULT = new DownloadLimits(DEFAULT_MAX_BYTES, DEFAULT_DEADLINE, List.of());

    public DownloadLimits {
        Objects.requireNonNull(deadline, "deadline");
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("downloads.max-bytes must be positive, got " + maxBytes);
        }
        if (deadline.isNegative() || deadline.isZero()) {
            throw new IllegalArgumentException("downloads.deadline-seconds must be positive, got " + deadline);
        }
        fileRoots = List.copyOf(fileRoots);
    }
}

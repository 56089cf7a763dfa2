package io.resilientkvm.importer.transfer;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Exponential backoff with jitter: before attempt {@code n + 1} a random delay in [d/2, d],
 * d = base * 2^(n-1), capped at {@code max}. The jitter keeps clones that failed together from
 * retrying together.
 */
public record Backoff(Duration base, Duration max) {
    public Backoff {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(max, "max");
        if (base.isNegative() || base.compareTo(max) > 0) {
            throw new IllegalArgumentException("backoff base " + base + " must be in 0.." + max);
        }
    }

    /** The delay after {@code failures} consecutive failures (1 = after the first). */
    public Duration delay(int failures) {
        if (failures < 1) {
            throw new IllegalArgumentException("failures must be at least 1, not " + failures);
        }
        long b = base.toMillis();
        long m = max.toMillis();
        long d = failures >= 31 ? m : Math.min(m, b << (failures - 1));
        return Duration.ofMillis(d / 2 + ThreadLocalRandom.current().nextLong(d / 2 + 1));
    }
}

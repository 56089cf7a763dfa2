package io.resilientkvm.engine.process;

import java.time.Duration;

/**
 * When a supervised QEMU exits on its own, restart it after a backoff that doubles from
 * {@code initialBackoff} up to {@code maxBackoff}, at most {@code maxRestarts} times within
 * {@code window}; past that the supervisor gives up (a crash loop needs an operator).
 */
public record RestartPolicy(int maxRestarts, Duration window, Duration initialBackoff, Duration maxBackoff) {
    public static final RestartPolicy DEFAULT = new RestartPolicy(5, Duration.ofMinutes(10), Duration.ofSeconds(1), Duration.ofSeconds(30));
    public static final RestartPolicy NEVER = new RestartPolicy(0, Duration.ofMinutes(1), Duration.ofSeconds(1), Duration.ofSeconds(1));

    public RestartPolicy {
        if (maxRestarts < 0) {
            throw new IllegalArgumentException("maxRestarts must be >= 0, got " + maxRestarts);
        }
        if (window.isNegative() || window.isZero() || initialBackoff.isNegative() || maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("need window > 0 and 0 <= initialBackoff <= maxBackoff, got "
                    + window + ", " + initialBackoff + ", " + maxBackoff);
        }
    }

    /** The wait before restart number {@code attempt} (1-based). */
    Duration backoff(int attempt) {
        long millis = initialBackoff.toMillis() << Math.min(20, Math.max(0, attempt - 1));
        return Duration.ofMillis(Math.min(millis, maxBackoff.toMillis()));
    }
}

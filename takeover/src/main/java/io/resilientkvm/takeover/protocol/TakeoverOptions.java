package io.resilientkvm.takeover.protocol;

import java.time.Clock;
import java.time.Duration;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * How a takeover runs.
 *
 * @param force       accept the overridable refusals (lag, a newer clone, a live main, a stale status)
 * @param lockTimeout how long to wait for the takeover lock before refusing
 * @param clock       for data age and timings
 * @param failsafeAckFile this node's fail-safe acknowledgement file ({@code FailsafeAck.file}), read at each plan
 */
public record TakeoverOptions(boolean force, Duration lockTimeout, Clock clock, Optional<Path> failsafeAckFile) {
    public static final Duration DEFAULT_LOCK_TIMEOUT = Duration.ofSeconds(10);

    /** Without a fail-safe acknowledgement file to honour. */
    public TakeoverOptions(boolean force, Duration lockTimeout, Clock clock) {
        this(force, lockTimeout, clock, Optional.empty());
    }

    public TakeoverOptions {
        Objects.requireNonNull(failsafeAckFile, "failsafeAckFile");
        Objects.requireNonNull(lockTimeout, "lockTimeout");
        if (lockTimeout.isNegative()) {
            throw new IllegalArgumentException("lockTimeout must be >= 0, got " + lockTimeout);
        }
        Objects.requireNonNull(clock, "clock");
    }

    public static TakeoverOptions defaults() {
        return new TakeoverOptions(false, DEFAULT_LOCK_TIMEOUT, Clock.systemUTC());
    }

    public TakeoverOptions withForce(boolean newForce) {
        return new TakeoverOptions(newForce, lockTimeout, clock, failsafeAckFile);
    }

    public TakeoverOptions withLockTimeout(Duration timeout) {
        return new TakeoverOptions(force, timeout, clock, failsafeAckFile);
    }

    /** Honours the fail-safe acknowledgement this node records in {@code file}. */
    public TakeoverOptions withFailsafeAckFile(Path file) {
        return new TakeoverOptions(force, lockTimeout, clock, Optional.of(file));
    }
}

package io.resilientkvm.takeover.protocol;

import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

/**
 * How a takeover runs.
 *
 * @param force       accept the overridable refusals (lag, a newer clone, a live main, a stale status)
 * @param lockTimeout how long to wait for the takeover lock before refusing
 * @param clock       for data age and timings
 */
public record TakeoverOptions(boolean force, Duration lockTimeout, Clock clock) {
    public static final Duration DEFAULT_LOCK_TIMEOUT = Duration.ofSeconds(10);

    public TakeoverOptions {
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
        return new TakeoverOptions(newForce, lockTimeout, clock);
    }

    public TakeoverOptions withLockTimeout(Duration timeout) {
        return new TakeoverOptions(force, timeout, clock);
    }
}

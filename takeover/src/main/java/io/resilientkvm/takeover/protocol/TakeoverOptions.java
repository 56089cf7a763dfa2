package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.watchdog.WatchdogLease;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How a takeover runs.
 *
 * @param force           accept the overridable refusals (lag, a newer clone, a live main, a stale status)
 * @param lockTimeout     how long to wait for the takeover lock before refusing
 * @param clock           for data age and timings
 * @param oldVmWait       how long to wait after the epoch moved before the promotion starts the VM, so
 *                        that the old main's VM keeper has paused the old VM (the VM watchdog's lease and
 *                        a tenth, docs/takeover.md)
 * @param failsafeAckFile this node's fail-safe acknowledgement file ({@code FailsafeAck.file}), read at each plan
 */
public record TakeoverOptions(boolean force, Duration lockTimeout, Clock clock, Duration oldVmWait,
        Optional<Path> failsafeAckFile) {
    public static final Duration DEFAULT_LOCK_TIMEOUT = Duration.ofSeconds(10);

    public TakeoverOptions {
        Objects.requireNonNull(lockTimeout, "lockTimeout");
        if (lockTimeout.isNegative()) {
            throw new IllegalArgumentException("lockTimeout must be >= 0, got " + lockTimeout);
        }
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(oldVmWait, "oldVmWait");
        if (oldVmWait.isNegative()) {
            throw new IllegalArgumentException("oldVmWait must be >= 0, got " + oldVmWait);
        }
        Objects.requireNonNull(failsafeAckFile, "failsafeAckFile");
    }

    /** No wait after the epoch moves and no acknowledgement file: for tests of the protocol whose promotion starts no VM. */
    public TakeoverOptions(boolean force, Duration lockTimeout, Clock clock) {
        this(force, lockTimeout, clock, Duration.ZERO, Optional.empty());
    }

    /** The defaults, with the wait of the default VM watchdog lease. */
    public static TakeoverOptions defaults() {
        return new TakeoverOptions(false, DEFAULT_LOCK_TIMEOUT, Clock.systemUTC(),
                WatchdogLease.promotionWait(NodeConfig.Watchdog.DEFAULT.lease()), Optional.empty());
    }

    public TakeoverOptions withForce(boolean newForce) {
        return new TakeoverOptions(newForce, lockTimeout, clock, oldVmWait, failsafeAckFile);
    }

    public TakeoverOptions withLockTimeout(Duration timeout) {
        return new TakeoverOptions(force, timeout, clock, oldVmWait, failsafeAckFile);
    }

    /** The wait for a VM watchdog whose lease is {@code lease}. */
    public TakeoverOptions withWatchdogLease(Duration lease) {
        return new TakeoverOptions(force, lockTimeout, clock, WatchdogLease.promotionWait(lease), failsafeAckFile);
    }

    /** Honours the fail-safe acknowledgement this node records in {@code file}. */
    public TakeoverOptions withFailsafeAckFile(Path file) {
        return new TakeoverOptions(force, lockTimeout, clock, oldVmWait, Optional.of(file));
    }
}

package io.resilientkvm.exporter.server;

import java.net.InetAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Failed authentications per client address, and how long the server holds back the next 401 to
 * that address: nothing for the first {@code free} failures, then 500 ms doubling up to
 * {@code max}. Only 401s are held (without a thread: the server schedules them), so a client that
 * presents the right token is never delayed, even from an address that failed before. An address
 * quiet for ten times {@code max} (at least ten minutes) starts again from zero.
 */
final class AuthBackoff {
    static final Duration FIRST = Duration.ofMillis(500);
    /** Addresses remembered at most; past it, stale ones go and an unknown address is held the longest. */
    static final int MAX_ADDRESSES = 10_000;

    private final int free;
    private final Duration max;
    private final long forgetNanos;
    private final LongSupplier nanoTime;
    private final ConcurrentHashMap<InetAddress, Failures> byAddress = new ConcurrentHashMap<>();

    private record Failures(int count, long lastNanos) {
    }

    AuthBackoff(int free, Duration max, LongSupplier nanoTime) {
        if (free < 0 || max.isNegative()) {
            throw new IllegalArgumentException("free failures and the longest hold must be 0 or more");
        }
        this.free = free;
        this.max = max;
        this.forgetNanos = Math.max(Duration.ofMinutes(10).toNanos(), max.multipliedBy(10).toNanos());
        this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
    }

    /** Records one failed authentication from {@code address}; returns how long to hold its 401. */
    Duration failed(InetAddress address) {
        long now = nanoTime.getAsLong();
        if (byAddress.size() >= MAX_ADDRESSES && !byAddress.containsKey(address)) {
            byAddress.values().removeIf(f -> now - f.lastNanos() > forgetNanos);
            if (byAddress.size() >= MAX_ADDRESSES) {
                // Failures from this many addresses at once: an attack; new ones get the longest hold.
                return max;
            }
        }
        Failures f = byAddress.compute(address, (a, old) -> old == null || now - old.lastNanos() > forgetNanos
                ? new Failures(1, now) : new Failures(old.count() + 1, now));
        return hold(f.count());
    }

    /** Failed authentications remembered for {@code address}. */
    int failures(InetAddress address) {
        Failures f = byAddress.get(address);
        return f == null || nanoTime.getAsLong() - f.lastNanos() > forgetNanos ? 0 : f.count();
    }

    /** The hold after the {@code count}-th failure. */
    Duration hold(int count) {
        if (count <= free) {
            return Duration.ZERO;
        }
        int doublings = Math.min(count - free - 1, 30);
        Duration d = FIRST.multipliedBy(1L << doublings);
        return d.compareTo(max) > 0 ? max : d;
    }
}

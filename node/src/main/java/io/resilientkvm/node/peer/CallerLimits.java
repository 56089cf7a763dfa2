package io.resilientkvm.node.peer;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The per-caller limits of the peer channel: at most {@code concurrent} requests of one node at
 * once, and {@code perSecond} a second (a token bucket holding one second's worth), so that one
 * misbehaving peer cannot take the threads the others need. Callers are pinned nodes, a handful,
 * so the map stays as small as the instance.
 */
final class CallerLimits {
    private static final long SECOND = 1_000_000_000L;

    private final int concurrent;
    private final int perSecond;
    private final LongSupplier nanoTime;
    private final Map<String, Bucket> callers = new ConcurrentHashMap<>();

    private final class Bucket {
        int active;
        double tokens = perSecond;
        long refilledAt = nanoTime.getAsLong();
    }

    CallerLimits(int concurrent, int perSecond, LongSupplier nanoTime) {
        this.concurrent = concurrent;
        this.perSecond = perSecond;
        this.nanoTime = nanoTime;
    }

    /** Admits one request of {@code node}, or says which limit it hit; an admitted request is {@link #release}d. */
    Optional<String> tryAcquire(String node) {
        Bucket b = callers.computeIfAbsent(node, n -> new Bucket());
        synchronized (b) {
            long now = nanoTime.getAsLong();
            b.tokens = Math.min(perSecond, b.tokens + (now - b.refilledAt) * (double) perSecond / SECOND);
            b.refilledAt = now;
            if (b.active >= concurrent) {
                return Optional.of(node + " already has " + concurrent + " requests in progress (the peer channel's limit per node)");
            }
            if (b.tokens < 1) {
                return Optional.of(node + " sent more than " + perSecond + " requests in the last second (the peer channel's limit"
                        + " per node)");
            }
            b.tokens -= 1;
            b.active++;
            return Optional.empty();
        }
    }

    void release(String node) {
        Bucket b = callers.get(node);
        if (b != null) {
            synchronized (b) {
                b.active = Math.max(0, b.active - 1);
            }
        }
    }
}

package io.resilientkvm.takeover.fencing;

import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * A main's fail-safe mode (docs/takeover.md, "Fail-safe mode"): cut from ZooKeeper, it keeps its
 * VM as long as every one of {@code clones} acknowledges it over {@code channel}. Every
 * {@code interval} it asks them all, each call bounded by {@code askTimeout}; a round every clone
 * acknowledged moves the fencing deadline to the round's start plus the suspend bound.
 *
 * @param instance   the instance's name, checked by the clones
 * @param clones     every other node of the instance (never empty: no clone, no one to vouch)
 * @param channel    the direct, authenticated channel to them
 * @param interval   between the starts of two rounds
 * @param askTimeout the longest one call may take
 * @param resumed    run once ZooKeeper is back and the epoch is verified still this main's (this
 *                   main publishes what it backed up meanwhile); must not throw
 */
public record Failsafe(String instance, Set<String> clones, AckChannel channel, Duration interval, Duration askTimeout,
        Runnable resumed) {
    public Failsafe {
        Objects.requireNonNull(instance, "instance");
        clones = Set.copyOf(clones);
        if (clones.isEmpty()) {
            throw new IllegalArgumentException("fail-safe mode needs the instance's clones: no clone, no acknowledgement");
        }
        Objects.requireNonNull(channel, "channel");
        Objects.requireNonNull(resumed, "resumed");
        if (interval.isNegative() || interval.isZero() || askTimeout.isNegative() || askTimeout.isZero()) {
            throw new IllegalArgumentException("fail-safe interval and ask timeout are positive");
        }
    }

    /**
     * The defaults for a suspend bound B: a round every B/4, so a healthy main (calls on open
     * connections take milliseconds) renews its deadline about four times per B and a lost round
     * costs nothing; each call bounded by B (a connection and its TLS handshake within B/2, the
     * answer within B/2). The first round of a cut may have to open the connections, and a cold
     * TLS handshake on a loaded host takes longer than B/4 (measured: FailsafeChannelTest failed
     * every round with B/4 for the connection when B was 2 s); the clone writes its promise with
     * an fsync before it answers, and on the bed with three instances at once (load about 8) two
     * rounds in a row got no answer within B/4 = 500 ms and the main fenced. A slow round costs no
     * safety: the deadline counts from the round's start.
     */
    public static Failsafe of(String instance, Set<String> clones, AckChannel channel, Duration suspendBound, Runnable resumed) {
        return new Failsafe(instance, clones, channel, suspendBound.dividedBy(4), suspendBound, resumed);
    }

    /** With {@code r} run when ZooKeeper is back and the epoch verified. */
    public Failsafe withResumed(Runnable r) {
        return new Failsafe(instance, clones, channel, interval, askTimeout, r);
    }
}

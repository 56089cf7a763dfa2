package io.resilientkvm.takeover.fencing;

import io.resilientkvm.takeover.fencing.AckChannel.AckAnswer;
import io.resilientkvm.takeover.fencing.AckChannel.AckRequest;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A clone's side of fail-safe mode: answers a main's acknowledgement request, and remembers
 * what it promised. It acknowledges only when it is a clone (not promoted, not promoting, not
 * fenced), the caller is the main it asks for, and this clone knows no newer epoch than the
 * main's (nor another owner of the same epoch). Before answering yes it writes the promise
 * ({@link FailsafeAck}) durably: no promotion of this node until {@code until}, which is never
 * moved earlier.
 */
public final class FailsafeAcknowledger {
    private static final Logger LOG = LoggerFactory.getLogger(FailsafeAcknowledger.class);

    /** What this node knows now, without asking ZooKeeper (it may be cut from it too). */
    public record View(boolean isClone, long epoch, String owner) {
        public View {
            Objects.requireNonNull(owner, "owner");
        }
    }

    private final String node;
    private final String instance;
    private final Duration ownWindow;
    private final Path file;
    private final Supplier<View> view;
    private final InstantSource clock;
    private FailsafeAck promise;

    /**
     * @param ownWindow this node's own suspend bound: a promise lasts at least that long, whatever
     *                  window the main asks for
     * @param file      where the promise is kept ({@link FailsafeAck#file})
     */
    public FailsafeAcknowledger(String node, String instance, Duration ownWindow, Path file, Supplier<View> view,
            InstantSource clock) {
        this.node = Objects.requireNonNull(node, "node");
        this.instance = Objects.requireNonNull(instance, "instance");
        this.ownWindow = Objects.requireNonNull(ownWindow, "ownWindow");
        this.file = Objects.requireNonNull(file, "file");
        this.view = Objects.requireNonNull(view, "view");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.promise = FailsafeAck.read(file).orElse(null);
    }

    /** Answers {@code caller}'s (the channel's authenticated peer) request. */
    public synchronized AckAnswer acknowledge(String caller, AckRequest request) {
        Optional<String> refusal = refusal(caller, request);
        if (refusal.isPresent()) {
            LOG.warn("Fail-safe: {} refuses to acknowledge {}: {}", node, caller, refusal.get());
            return new AckAnswer(node, false, refusal.get());
        }
        Instant now = clock.instant();
        Instant until = now.plusMillis(Math.max(request.windowMillis(), ownWindow.toMillis()));
        if (promise != null && promise.until().isAfter(until)) {
            until = promise.until(); // a promise is never shortened
        }
        FailsafeAck next = new FailsafeAck(request.main(), request.epoch(), now, until);
        try {
            next.write(file);
        } catch (IOException e) {
            // Unrecorded, the promise could not bind bin/takeover: better no acknowledgement.
            LOG.error("Fail-safe: {} cannot record its acknowledgement in {}: {}", node, file, e.getMessage());
            return new AckAnswer(node, false, node + " cannot record its acknowledgement in " + file + ": " + e.getMessage());
        }
        if (promise == null || !promise.liveAt(now)) {
            LOG.warn("Fail-safe: {} acknowledges main {} of epoch {} (cut from ZooKeeper); it takes part in no promotion"
                    + " until {}", node, request.main(), request.epoch(), until);
        }
        promise = next;
        return new AckAnswer(node, true, "acknowledged until " + until);
    }

    private Optional<String> refusal(String caller, AckRequest request) {
        if (!instance.equals(request.instance())) {
            return Optional.of("this node belongs to instance " + instance + ", not " + request.instance());
        }
        if (!caller.equals(request.main())) {
            return Optional.of("the request names main " + request.main() + " but comes from " + caller);
        }
        View v = view.get();
        if (!v.isClone()) {
            return Optional.of(node + " is not a clone now (promoted, promoting or fenced)");
        }
        if (v.epoch() > request.epoch()) {
            return Optional.of(node + " knows epoch " + v.epoch() + " (owner " + v.owner() + "), newer than " + request.main()
                    + "'s epoch " + request.epoch());
        }
        if (v.epoch() == request.epoch() && !v.owner().equals(request.main())) {
            return Optional.of("epoch " + v.epoch() + " is owned by " + v.owner() + ", not " + request.main());
        }
        return Optional.empty();
    }

    /** The promise this node is bound by at {@code now}, if one holds. */
    public synchronized Optional<FailsafeAck> binding(Instant now) {
        return Optional.ofNullable(promise).filter(p -> p.liveAt(now));
    }

    /** The promise recorded in {@code file} that still holds at {@code now} (for bin/takeover, another process). */
    public static Optional<FailsafeAck> binding(Path file, Instant now) {
        return FailsafeAck.read(file).filter(p -> p.liveAt(now));
    }
}

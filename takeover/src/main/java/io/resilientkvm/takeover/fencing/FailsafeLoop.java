package io.resilientkvm.takeover.fencing;

import io.resilientkvm.engine.time.TaskTimer;
import io.resilientkvm.takeover.fencing.AckChannel.AckAnswer;
import io.resilientkvm.takeover.fencing.AckChannel.AckRequest;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The main's acknowledgement rounds while it is cut from ZooKeeper. A round asks every clone at
 * once; when all answered it reports the round's start and the answers; the next round starts
 * {@code interval} after the previous one started (never two at once). Stops when closed.
 */
final class FailsafeLoop implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FailsafeLoop.class);

    private final Failsafe failsafe;
    private final AckRequest request;
    private final InstantSource ticks;
    private final TaskTimer timer;
    private final Executor askers;
    private final BiConsumer<Instant, List<AckAnswer>> roundEnded;
    private volatile boolean closed;

    FailsafeLoop(Failsafe failsafe, AckRequest request, InstantSource ticks, TaskTimer timer, Executor askers,
            BiConsumer<Instant, List<AckAnswer>> roundEnded) {
        this.failsafe = failsafe;
        this.request = request;
        this.ticks = ticks;
        this.timer = timer;
        this.askers = askers;
        this.roundEnded = roundEnded;
    }

    void start() {
        next(Duration.ZERO);
    }

    private void next(Duration delay) {
        if (closed) {
            return;
        }
        try {
            timer.schedule(delay, this::round);
        } catch (RejectedExecutionException e) {
            LOG.debug("fail-safe loop of {}: timer closed", request.main());
        }
    }

    private void round() {
        if (closed) {
            return;
        }
        Instant started = ticks.instant();
        askAll(failsafe, request, failsafe.askTimeout(), askers).whenComplete((answers, e) -> {
            if (!closed) {
                roundEnded.accept(started, answers);
            }
            Duration spent = Duration.between(started, ticks.instant());
            next(failsafe.interval().minus(spent).isNegative() ? Duration.ZERO : failsafe.interval().minus(spent));
        });
    }

    /**
     * Asks every clone of {@code failsafe} at once, each call bounded by {@code timeout}; completes
     * (never exceptionally) with every answer, in the clones' order, a failed call counting as no
     * acknowledgement. One round, for the loop and for an ask on demand.
     */
    static CompletableFuture<List<AckAnswer>> askAll(Failsafe failsafe, AckRequest request, Duration timeout, Executor askers) {
        List<CompletableFuture<AckAnswer>> calls = failsafe.clones().stream().sorted()
                .map(clone -> ask(failsafe, clone, request, timeout, askers)).toList();
        return CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new))
                .thenApply(v -> calls.stream().map(CompletableFuture::join).toList());
    }

    /** The clones that did not acknowledge, and why, for a log line. */
    static String missing(List<AckAnswer> answers) {
        return answers.stream().filter(a -> !a.acknowledged()).map(a -> a.peer() + ": " + a.detail())
                .collect(java.util.stream.Collectors.joining("; "));
    }

    private static CompletableFuture<AckAnswer> ask(Failsafe failsafe, String clone, AckRequest request, Duration timeout,
            Executor askers) {
        CompletableFuture<AckAnswer> call;
        try {
            call = CompletableFuture.supplyAsync(() -> failsafe.channel().ask(clone, request, timeout), askers);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.completedFuture(AckAnswer.failed(clone, "the main is stopping"));
        }
        // A channel that overstays its timeout counts as no acknowledgement; so does one that throws.
        return call.completeOnTimeout(AckAnswer.failed(clone, "no answer within " + timeout.toMillis() + " ms"),
                        timeout.toMillis() + failsafe.interval().toMillis(), TimeUnit.MILLISECONDS)
                .exceptionally(e -> AckAnswer.failed(clone, "the call failed: " + e.getMessage()));
    }

    @Override
    public void close() {
        closed = true;
    }
}

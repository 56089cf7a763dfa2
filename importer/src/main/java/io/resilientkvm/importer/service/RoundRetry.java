package io.resilientkvm.importer.service;

import io.resilientkvm.engine.error.NextStep;
import io.resilientkvm.importer.transfer.Backoff;
import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Another round after a transient failure, sooner than the periodic resync: the delay doubles
 * (with jitter) for each failed round in a row, up to the resync; any other outcome resets it
 * and cancels a retry still pending. Used by the importer's single thread only.
 */
final class RoundRetry {
    private static final Logger LOG = LoggerFactory.getLogger(RoundRetry.class);

    private final ScheduledExecutorService executor;
    private final Runnable requestRound;
    private final Backoff backoff;
    private int failedInARow;
    private ScheduledFuture<?> pending;

    RoundRetry(ScheduledExecutorService executor, Runnable requestRound, Backoff backoff) {
        this.executor = executor;
        this.requestRound = requestRound;
        this.backoff = backoff;
    }

    /** After a round whose failure says {@code next} (null: none): the delay of the retry scheduled, or null. */
    Duration after(NextStep next) {
        if (pending != null) {
            pending.cancel(false);
            pending = null;
        }
        if (next != NextStep.RETRY) {
            failedInARow = 0;
            return null;
        }
        failedInARow++;
        Duration delay = backoff.delay(failedInARow);
        try {
            pending = executor.schedule(requestRound, delay.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closed) {
            return null; // closing: no more rounds
        }
        LOG.info("Next import round in {} ms ({} failed in a row)", delay.toMillis(), failedInARow);
        return delay;
    }
}

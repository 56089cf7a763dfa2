package io.resilientkvm.importer.transfer;

import io.resilientkvm.engine.error.GiveUpException;
import io.resilientkvm.engine.error.NextStep;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.error.RetryableException;
import java.net.URI;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The attempts of one fetch: runs them until one is verified, a problem says no attempt can help,
 * or {@code maxAttempts} are used up, waiting with {@link Backoff} between them through an
 * injected {@link Sleeper} (tests wait for nothing). The failure says what to do next: refused
 * (the token), give up this backup (gone, or its bytes never matched the manifest), or retry
 * later (the network), with the attempts and bytes in the message.
 */
final class RetryLoop {
    private static final Logger LOG = LoggerFactory.getLogger(RetryLoop.class);

    /** One attempt, numbered from 1. */
    @FunctionalInterface
    interface Attempt {
        AttemptResult run(int number) throws InterruptedException;
    }

    /**
     * @param last     the verified attempt
     * @param attempts how many ran
     * @param received body bytes received over all of them
     */
    record Success(AttemptResult last, int attempts, long received) {}

    private final int maxAttempts;
    private final Backoff backoff;
    private final Sleeper sleeper;
    private final URI server;

    RetryLoop(TransferSettings settings, Sleeper sleeper) {
        this.maxAttempts = settings.maxAttempts();
        this.backoff = new Backoff(settings.backoffBase(), settings.backoffMax());
        this.sleeper = sleeper;
        this.server = settings.baseUri();
    }

    Success run(String what, Attempt attempt) throws RefusedException, OperationFailedException, InterruptedException {
        long received = 0;
        String last = "no attempt made";
        NextStep next = NextStep.RETRY;
        for (int n = 1; n <= maxAttempts; n++) {
            AttemptResult r = attempt.run(n);
            received += r.received();
            if (r.verified()) {
                return new Success(r, n, received);
            }
            Problem p = r.problem();
            if (!p.retry()) {
                throw failure(p.next(), "cannot fetch " + what + " from " + server + ": " + p.text());
            }
            last = "attempt " + n + ": " + p.text();
            next = p.next();
            if (n < maxAttempts) {
                Duration delay = backoff.delay(n);
                LOG.warn("Fetching {} failed ({}); attempt {} of {} in {} ms", what, last, n + 1, maxAttempts,
                        delay.toMillis());
                sleeper.sleep(delay);
            }
        }
        // Only a partial that failed its check was dropped; a cut one is kept for a later resume.
        throw failure(next, "cannot fetch " + what + " from " + server + " after " + maxAttempts + " attempts ("
                + received + " bytes received); last: " + last
                + ". Nothing was added to the clone's history; check the main's repository and the network");
    }

    /** The failure {@code next} calls for; a refusal, being no operation failure, is thrown here. */
    private static OperationFailedException failure(NextStep next, String message) throws RefusedException {
        return switch (next) {
            case REFUSE -> throw new RefusedException(message);
            case GIVE_UP_ITEM, FIX_INPUT -> new GiveUpException(message);
            case RETRY -> new RetryableException(message);
        };
    }
}

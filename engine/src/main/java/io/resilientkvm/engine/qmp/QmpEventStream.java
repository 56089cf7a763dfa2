package io.resilientkvm.engine.qmp;

import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A queue of the events matching a filter, from the moment it was opened. Open it before
 * issuing the command whose events you await, so none is missed.
 */
public final class QmpEventStream implements AutoCloseable {
    private static final QmpEvent END = new QmpEvent("__end__", null, java.time.Instant.EPOCH);

    private final BlockingQueue<QmpEvent> queue = new LinkedBlockingQueue<>();
    private final Predicate<QmpEvent> filter;
    private final Runnable onClose;
    private volatile String endReason;

    QmpEventStream(Predicate<QmpEvent> filter, Runnable onClose) {
        this.filter = filter;
        this.onClose = onClose;
    }

    void offer(QmpEvent event) {
        if (filter.test(event)) {
            queue.add(event);
        }
    }

    void end(String reason) {
        endReason = reason;
        queue.add(END);
    }

    /** The next matching event; throws when none came within the timeout or the connection ended. */
    public QmpEvent next(Duration timeout) throws QmpException {
        try {
            QmpEvent event = queue.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (event == null) {
                throw new QmpTimeoutException("no QMP event within " + timeout.toMillis() + " ms");
            }
            if (event == END) {
                queue.add(END); // stay ended for later callers
                throw new QmpConnectionException("QMP connection ended while waiting for an event: " + endReason);
            }
            return event;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("interrupted while waiting for a QMP event", e);
        }
    }

    /** Skips events until one satisfies {@code condition}; the timeout covers the whole wait. */
    public QmpEvent await(Predicate<QmpEvent> condition, Duration timeout) throws QmpException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new QmpTimeoutException("no matching QMP event within " + timeout.toMillis() + " ms");
            }
            QmpEvent event = next(Duration.ofNanos(left));
            if (condition.test(event)) {
                return event;
            }
        }
    }

    @Override
    public void close() {
        onClose.run();
    }
}

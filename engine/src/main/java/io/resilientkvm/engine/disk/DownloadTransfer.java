package io.resilientkvm.engine.disk;

import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** One download's URL (for messages) and its deadline over every try, and each try run within it. */
final class DownloadTransfer {
    /** A try's work: the MD5 and SHA-256 of the downloaded bytes. */
    interface Fetch extends Callable<String[]> {
        @Override
        String[] call() throws IOException, BadInputException;
    }

    final String where;
    final long deadlineNanos;
    private final Duration deadline;
    volatile boolean expired;

    DownloadTransfer(String where, Duration deadline) {
        this.where = where;
        this.deadline = deadline;
        this.deadlineNanos = System.nanoTime() + deadline.toNanos();
    }

    void checkDeadline() throws DownloadStop {
        if (expired || System.nanoTime() - deadlineNanos >= 0) {
            expired = true;
            throw new DownloadStop(deadlineMessage(), false);
        }
    }

    String deadlineMessage() {
        return "downloading " + where + " did not finish within " + deadline.toSeconds()
                + " s (downloads.deadline-seconds in the node configuration); the partial file was removed."
                + " Check the server's speed, or raise the deadline";
    }

    /**
     * {@code fetch} on a worker thread, waited for until the deadline. A read blocked on a
     * trickling server cannot be cut from here (HttpURLConnection's disconnect waits for the read's
     * lock), so at the deadline the worker is interrupted, which closes its file channel, and left
     * to end at its next read timeout, writing nothing more.
     */
    String[] withinDeadline(Fetch fetch) throws IOException, BadInputException {
        ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "download " + where);
            t.setDaemon(true);
            return t;
        });
        try {
            Future<String[]> result = worker.submit(fetch);
            try {
                return result.get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                expired = true;
                result.cancel(true);
                throw new DownloadStop(deadlineMessage(), false);
            } catch (InterruptedException e) {
                result.cancel(true);
                Thread.currentThread().interrupt();
                throw new DownloadStop("downloading " + where + " was interrupted; the partial file was removed", false);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                if (e.getCause() instanceof BadInputException bad) {
                    throw bad;
                }
                throw new IllegalStateException("downloading " + where + " failed: " + e.getCause(), e.getCause());
            }
        } finally {
            worker.shutdownNow();
        }
    }
}

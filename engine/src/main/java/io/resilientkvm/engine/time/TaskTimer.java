package io.resilientkvm.engine.time;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a task once after a delay: the sleeper of a component whose behaviour depends on elapsed
 * time (Curator's RetrySleeper, Caffeine's Scheduler). Injected so that a test can advance time
 * and see the decision at once instead of waiting for it ({@code ManualTime} in the engine's
 * test jar); {@link #system} is the real one.
 */
public interface TaskTimer extends AutoCloseable {
    /** A scheduled task that has not run yet can still be called off. */
    @FunctionalInterface
    interface Scheduled {
        /** True if the task will not run (it had not started). */
        boolean cancel();
    }

    /** Runs {@code task} once, {@code delay} from now, on the timer's thread. */
    Scheduled schedule(Duration delay, Runnable task);

    /** Drops the tasks not run yet; later schedules are refused. */
    @Override
    void close();

    /**
     * A timer on one daemon thread of its own, so that a slow task elsewhere never delays it.
     * Closing it stops the thread.
     */
    static TaskTimer system(String threadName) {
        ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
        return new TaskTimer() {
            @Override
            public Scheduled schedule(Duration delay, Runnable task) {
                ScheduledFuture<?> f = executor.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
                return () -> f.cancel(false);
            }

            @Override
            public void close() {
                executor.shutdownNow();
            }
        };
    }
}

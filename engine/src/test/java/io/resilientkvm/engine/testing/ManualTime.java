package io.resilientkvm.engine.testing;

import io.resilientkvm.engine.time.TaskTimer;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * A clock and a timer that move only when a test says so: {@link #advance} moves the clock and
 * runs, on the caller's thread and in deadline order, every task that became due. A timing test
 * then checks a decision just before and just after its boundary without waiting for it.
 */
public final class ManualTime implements InstantSource, TaskTimer {
    private record Task(long dueNanos, long order, Runnable body, boolean[] cancelled) {}

    private final Instant origin;
    private final PriorityQueue<Task> tasks = new PriorityQueue<>(
            Comparator.comparingLong(Task::dueNanos).thenComparingLong(Task::order));
    private long nanos;
    private long order;
    private boolean closed;

    public ManualTime(Instant origin) {
        this.origin = origin;
    }

    public ManualTime() {
        this(Instant.parse("2026-01-01T00:00:00Z"));
    }

    @Override
    public synchronized Instant instant() {
        return origin.plusNanos(nanos);
    }

    /** Time elapsed since the origin. */
    public synchronized Duration elapsed() {
        return Duration.ofNanos(nanos);
    }

    @Override
    public synchronized Scheduled schedule(Duration delay, Runnable task) {
        if (closed) {
            throw new java.util.concurrent.RejectedExecutionException("the manual timer is closed");
        }
        boolean[] cancelled = new boolean[1];
        Task t = new Task(nanos + Math.max(0, delay.toNanos()), order++, task, cancelled);
        tasks.add(t);
        return () -> {
            synchronized (ManualTime.this) {
                boolean wasPending = tasks.remove(t);
                cancelled[0] = true;
                return wasPending;
            }
        };
    }

    /** How many tasks wait for their time (a test waits for a component to arm its timer). */
    public synchronized int pending() {
        return tasks.size();
    }

    /** Moves the clock by {@code step}, running each task that falls due, at its own time. */
    public void advance(Duration step) {
        long target;
        synchronized (this) {
            target = nanos + step.toNanos();
        }
        while (true) {
            Task next;
            synchronized (this) {
                next = tasks.peek();
                if (next == null || next.dueNanos() > target) {
                    nanos = target;
                    return;
                }
                tasks.poll();
                nanos = Math.max(nanos, next.dueNanos());
            }
            if (!next.cancelled()[0]) {
                next.body().run(); // outside the lock: a task may schedule or cancel others
            }
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        tasks.clear();
    }

    @Override
    public synchronized String toString() {
        List<Long> due = new ArrayList<>();
        tasks.forEach(t -> due.add(t.dueNanos() / 1_000_000));
        return "ManualTime[" + instant() + ", pending at ms " + due + "]";
    }
}

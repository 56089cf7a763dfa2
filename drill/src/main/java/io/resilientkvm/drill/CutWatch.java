package io.resilientkvm.drill;

import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * When things happen after a main's host is cut (all {@link System#nanoTime()}): the old main's
 * QEMU ending (its process's exit), ZooKeeper dropping its session, the new main's QEMU appearing
 * (its pid file, polled every 5 ms, so that "stopped before started" is measured, not assumed).
 */
final class CutWatch {
    private final int round;
    private final long cutAt = System.nanoTime();
    private final AtomicLong oldVmStopped = new AtomicLong();
    private final AtomicLong newVmStarted = new AtomicLong();
    private final AtomicLong sessionGone = new AtomicLong();
    private final ScheduledExecutorService poll = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "cut-watch");
        t.setDaemon(true);
        return t;
    });

    private CutWatch(int round) {
        this.round = round;
    }

    /** Starts watching just before the cut of {@code oldMain}'s host; {@code candidate} will take over. */
    static CutWatch start(int round, NodeProcess oldMain, NodeProcess candidate) {
        CutWatch w = new CutWatch(round);
        Optional<ProcessHandle> vm = oldMain.qemu();
        if (vm.isEmpty()) {
            w.oldVmStopped.set(System.nanoTime()); // already gone: the check that it stopped first still holds it to this
        } else {
            vm.get().onExit().thenRun(() -> w.oldVmStopped.compareAndSet(0, System.nanoTime()));
        }
        w.poll.scheduleWithFixedDelay(() -> {
            if (candidate.qemu().isPresent() && w.newVmStarted.compareAndSet(0, System.nanoTime())) {
                w.poll.shutdown();
            }
        }, 0, 5, TimeUnit.MILLISECONDS);
        return w;
    }

    int round() {
        return round;
    }

    void sessionGone() {
        sessionGone.compareAndSet(0, System.nanoTime());
    }

    boolean oldVmStopped() {
        return oldVmStopped.get() != 0;
    }

    long oldVmStoppedAt() {
        return oldVmStopped.get();
    }

    /** 0 until the new main's QEMU was seen. */
    long newVmStartedAt() {
        return newVmStarted.get();
    }

    long sessionGoneAt() {
        return sessionGone.get();
    }

    /** Seconds from the cut to {@code nanos}. */
    double seconds(long nanos) {
        return (nanos - cutAt) / 1e9;
    }

    /** Stops the polling (also done by itself once the new VM was seen). */
    void close() {
        poll.shutdownNow();
    }
}

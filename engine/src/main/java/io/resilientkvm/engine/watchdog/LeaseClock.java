package io.resilientkvm.engine.watchdog;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;

/**
 * The clock of the VM watchdog's leases: CLOCK_BOOTTIME in nanoseconds. Like
 * {@link System#nanoTime()} (CLOCK_MONOTONIC) it is one clock for every process of a host and never
 * steps with the wall clock, but it also counts the time the host was suspended, so a lease
 * taken before a suspend has expired after it (a monotonic deadline would give the old VM a
 * whole lease more after the resume).
 */
public final class LeaseClock {
    private static final int CLOCK_BOOTTIME = 7;

    static {
        Native.register(LeaseClock.class, "c");
    }

    private LeaseClock() {
    }

    private static native int clock_gettime(int clock, long[] timespec) throws LastErrorException;

    /** Now, in nanoseconds since boot (suspended time included). */
    public static long nanos() {
        return nanos(new long[2]);
    }

    /** As {@link #nanos()}, into {@code timespec} (two longs, reused by the keeper's loop: no allocation). */
    static long nanos(long[] timespec) {
        clock_gettime(CLOCK_BOOTTIME, timespec);
        return timespec[0] * 1_000_000_000L + timespec[1];
    }
}

package io.resilientkvm.exporter.repository;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A crash test's hook, off unless the system property {@value #PROPERTY} is set: holds a run
 * at a named point of publication so a test can SIGKILL it there. Publication has no point a
 * test could observe from outside long enough to kill at (the jobs are gone, hashing and the
 * fsync take milliseconds), hence this. Values: {@code before-manifest} (every disk) or
 * {@code before-manifest:DEVICE} (that disk only: the others publish).
 */
final class PausePoint {
    static final String PROPERTY = "rkvm.exporter.pause-at";
    /** After the file is synced, hashed and renamed, before its manifest is written. */
    static final String BEFORE_MANIFEST = "before-manifest";
    private static final Logger LOG = LoggerFactory.getLogger(PausePoint.class);
    private static final Duration HOLD = Duration.ofMinutes(5);

    private PausePoint() {
    }

    /** Returns at once unless the property names this point (and device); else holds for {@link #HOLD}. */
    static void reach(String point, String device) {
        String wanted = System.getProperty(PROPERTY);
        if (wanted == null || !(wanted.equals(point) || wanted.equals(point + ":" + device))) {
            return;
        }
        LOG.warn("Paused at {} of {} ({} is set: a crash test's hook)", point, device, PROPERTY);
        long end = System.nanoTime() + HOLD.toNanos();
        while (end - System.nanoTime() > 0) {
            LockSupport.parkNanos(end - System.nanoTime());
        }
        LOG.warn("Pause at {} of {} ended after {}", point, device, HOLD);
    }
}

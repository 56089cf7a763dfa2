package io.resilientkvm.engine.lifecycle;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A crash test's hook, off unless the system property {@value #PROPERTY} is set: holds the
 * process at a named point so a test can SIGKILL it exactly there. Only for points no test can
 * observe from outside long enough to kill at (they last milliseconds). Values: a point name
 * (held for every subject) or {@code POINT:SUBJECT} (that disk only).
 */
public final class PausePoint {
    /** The system property naming the point. */
    public static final String PROPERTY = "rkvm.pause-at";
    /** Exporter: a disk's backup is synced, hashed and renamed, its manifest not yet written. */
    public static final String BEFORE_MANIFEST = "before-manifest";
    /** Promotion: the disk in the way is kept aside, its overlay not yet restored. */
    public static final String PROMOTION_RESTORE = "promotion-restore";
    private static final Logger LOG = LoggerFactory.getLogger(PausePoint.class);
    private static final Duration HOLD = Duration.ofMinutes(5);

    private PausePoint() {
    }

    /** Returns at once unless {@value #PROPERTY} names this point (and subject); else holds for 5 minutes. */
    public static void reach(String point, String subject) {
        String wanted = System.getProperty(PROPERTY);
        if (wanted == null || !(wanted.equals(point) || wanted.equals(point + ":" + subject))) {
            return;
        }
        LOG.warn("Paused at {} of {} ({} is set: a crash test's hook)", point, subject, PROPERTY);
        long end = System.nanoTime() + HOLD.toNanos();
        while (end - System.nanoTime() > 0) {
            LockSupport.parkNanos(end - System.nanoTime());
        }
        LOG.warn("Pause at {} of {} ended after {}", point, subject, HOLD);
    }
}

package io.resilientkvm.exporter.progress;

import io.resilientkvm.exporter.qmp.BackupTransaction;
import io.resilientkvm.exporter.qmp.JobProgress;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Progress as a log line per job every 5 s: for services, pipes and log files. */
public final class ProgressLog implements BackupTransaction.ProgressListener {
    private static final Logger LOG = LoggerFactory.getLogger(ProgressLog.class);
    /** How often a line is logged. */
    public static final Duration EVERY = Duration.ofSeconds(5);

    private long next = System.nanoTime() + EVERY.toNanos();

    @Override
    public void progress(List<JobProgress> jobs) {
        long now = System.nanoTime();
        if (now - next < 0) {
            return;
        }
        next = now + EVERY.toNanos();
        for (JobProgress j : jobs) {
            long total = Math.max(1, j.total());
            LOG.info("{}: {}% ({} of {} MiB, {})", j.device(), j.current() * 100 / total, j.current() >> 20,
                    j.total() >> 20, j.status());
        }
    }
}

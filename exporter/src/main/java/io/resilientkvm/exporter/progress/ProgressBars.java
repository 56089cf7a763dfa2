package io.resilientkvm.exporter.progress;

import io.resilientkvm.exporter.qmp.BackupTransaction;
import io.resilientkvm.exporter.qmp.JobProgress;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress as one bar per disk on a terminal (me.tongfei progressbar, in MiB). Close it when the
 * jobs are done so the bars end their lines.
 */
public final class ProgressBars implements BackupTransaction.ProgressListener, AutoCloseable {
    private static final long MIB = 1 << 20;
    private final PrintStream out;
    private final Map<String, ProgressBar> bars = new LinkedHashMap<>();

    /** Bars drawn on {@code out} (the terminal's stderr, so stdout stays the result). */
    public ProgressBars(PrintStream out) {
        this.out = out;
    }

    @Override
    public synchronized void progress(List<JobProgress> jobs) {
        for (JobProgress j : jobs) {
            ProgressBar bar = bars.computeIfAbsent(j.device(), d -> new ProgressBarBuilder().setTaskName(d)
                    .setInitialMax(Math.max(1, j.total() / MIB)).setUnit(" MiB", 1).showSpeed()
                    .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(out))
                    .continuousUpdate().build());
            bar.maxHint(Math.max(1, j.total() / MIB));
            bar.stepTo(j.current() / MIB);
            bar.setExtraMessage(j.status());
        }
    }

    @Override
    public synchronized void close() {
        for (ProgressBar bar : bars.values()) {
            bar.close();
        }
        bars.clear();
    }
}

package io.resilientkvm.exporter.schedule;

import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.BackupResult;
import io.resilientkvm.exporter.Exporter;

/**
 * Runs one backup for the {@link BackupSchedule}. The production runner is {@link #EXPORTER}
 * ({@link Exporter#backup(BackupRequest)}); tests inject their own to control timing and failures.
 */
@FunctionalInterface
public interface BackupRunner {
    /** The real thing: {@link Exporter#backup(BackupRequest)}. */
    BackupRunner EXPORTER = Exporter::backup;

    /** Backs up as asked; any exception marks the run failed (the next run retries). */
    BackupResult run(BackupRequest request) throws Exception;
}

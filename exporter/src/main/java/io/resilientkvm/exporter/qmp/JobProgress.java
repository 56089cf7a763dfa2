package io.resilientkvm.exporter.qmp;

/**
 * A running job's figures from {@code query-jobs}.
 *
 * @param jobId   the job
 * @param device  the disk it backs up
 * @param current bytes done ({@code current-progress})
 * @param total   bytes to do ({@code total-progress}; it may grow while the job runs)
 * @param status  QEMU's job status, e.g. {@code running}
 */
public record JobProgress(String jobId, String device, long current, long total, String status) {
}

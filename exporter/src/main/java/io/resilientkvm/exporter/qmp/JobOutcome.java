package io.resilientkvm.exporter.qmp;

import java.time.Instant;

/**
 * How one disk's job ended.
 *
 * @param spec             the job
 * @param error            QEMU's error, or null on success
 * @param startedAt        when the transaction started it (the backup's point in time)
 * @param finishedAt       when it concluded
 * @param bytesTransferred bytes it copied
 */
public record JobOutcome(JobSpec spec, String error, Instant startedAt, Instant finishedAt, long bytesTransferred) {
    public boolean ok() {
        return error == null;
    }
}

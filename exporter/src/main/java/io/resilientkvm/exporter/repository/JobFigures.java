package io.resilientkvm.exporter.repository;

import java.time.Instant;

/**
 * What the QEMU job reported for one backup, recorded in its manifest.
 *
 * @param startedAt        when the job started (the backup's point in time)
 * @param finishedAt       when it concluded
 * @param bytesTransferred bytes it copied
 */
public record JobFigures(Instant startedAt, Instant finishedAt, long bytesTransferred) {
}

package io.resilientkvm.exporter;

import io.resilientkvm.engine.backup.BackupManifest;
import java.nio.file.Path;

/**
 * One disk's completed backup.
 *
 * @param device   the disk
 * @param file     the backup file
 * @param bytes    bytes the job copied
 * @param seconds  how long the job ran
 * @param mbPerSec copy rate in MB/s (10^6 bytes)
 * @param manifest its manifest, as written beside it
 */
public record DeviceBackup(String device, Path file, long bytes, double seconds, double mbPerSec,
        BackupManifest manifest) {
}

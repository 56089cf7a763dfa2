package io.resilientkvm.exporter;

import java.util.List;

/** The outcome of one backup run: one entry per disk, in discovery order. */
public record BackupResult(List<DeviceBackup> backups) {
    public BackupResult {
        backups = List.copyOf(backups);
    }
}

package io.resilientkvm.engine.backup;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * One backup chain of one disk: a full backup and the incrementals on top of it, in order.
 * Only backups with a manifest are listed (the manifest marks a backup complete).
 *
 * @param device  the disk's folder name
 * @param chainId the chain's folder name (the full backup's time)
 * @param dir     the chain's folder
 * @param backups complete backups by sequence (index 0 is the full)
 * @param closedReason why no backup may be added any more, or null when the chain is open
 */
public record Chain(String device, String chainId, Path dir, List<BackupManifest> backups, String closedReason) {
    public Chain {
        backups = List.copyOf(backups);
    }

    /** The newest complete backup, if any. */
    public Optional<BackupManifest> newest() {
        return backups.isEmpty() ? Optional.empty() : Optional.of(backups.get(backups.size() - 1));
    }

    /** The path of a backup's file. */
    public Path file(BackupManifest backup) {
        return dir.resolve(backup.file());
    }

    /** The bitmap that tracks this chain on the VM (from its full), if the chain has a full. */
    public Optional<String> bitmap() {
        return backups.isEmpty() ? Optional.empty() : Optional.of(backups.get(0).bitmap());
    }

    /** True when incrementals may be added: it has a full backup and was not closed. */
    public boolean isOpen() {
        return closedReason == null && !backups.isEmpty();
    }
}

package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.Chain;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Objects;

/**
 * One complete backup that a disk can be restored to: the chain and the backup in it. The
 * disk as of this point is the backup's file read through its backing chain.
 *
 * @param chain  the chain holding it
 * @param backup the backup's manifest
 */
public record RestorePoint(Chain chain, BackupManifest backup) {
    public RestorePoint {
        Objects.requireNonNull(chain, "chain");
        Objects.requireNonNull(backup, "backup");
    }

    public String device() {
        return chain.device();
    }

    /** {@code <chain>/<file>}, the name {@code --until} accepts. */
    public String name() {
        return chain.chainId() + "/" + backup.file();
    }

    /** The point in time the backup captured (its job's start). */
    public Instant time() {
        return backup.startedAt() != null ? backup.startedAt() : backup.createdAt();
    }

    /** The backup file's absolute path. */
    public Path file() {
        return chain.file(backup).toAbsolutePath().normalize();
    }

    /** The chain cut at this point: the full and the incrementals up to this backup. */
    public Chain chainUpToHere() {
        return new Chain(chain.device(), chain.chainId(), chain.dir(), chain.backups().subList(0, backup.sequence() + 1),
                chain.closedReason());
    }
}

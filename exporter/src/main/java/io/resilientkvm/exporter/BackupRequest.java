package io.resilientkvm.exporter;

import io.resilientkvm.exporter.quiesce.PointInTime;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What to back up, where and how. Start from {@link #of(Path, Path)} and adjust with the
 * {@code with...} methods.
 *
 * @param qmpSocket        the VM's QMP socket (unused when a connected client is given)
 * @param target           the repository folder
 * @param level            AUTO (incremental when the chain allows it, else full), FULL or INC
 * @param devices          the disks to back up by name; empty for every writable disk
 * @param excluded         disks to leave out
 * @param speedBytesPerSec job speed limit, 0 for none
 * @param compress         compressed target clusters
 * @param instance         the VM name for the manifests; null to ask QEMU ({@code query-name})
 * @param epoch            the cluster epoch recorded in manifests; 0 when not clustered
 * @param jobTimeout       how long the jobs may run before they are cancelled
 * @param pointInTime      quiesce through the guest agent and/or pause around the transaction
 * @param newChainPolicy   when an AUTO backup starts a new chain ({@code backup-new-chain-every})
 * @param progressBar      draw progress bars on the terminal (stderr) instead of log lines
 */
public record BackupRequest(Path qmpSocket, Path target, Level level, List<String> devices, List<String> excluded,
        long speedBytesPerSec, boolean compress, String instance, long epoch, Duration jobTimeout,
        PointInTime.Options pointInTime, NewChainPolicy newChainPolicy, boolean progressBar) {

    /** The backup level asked for. */
    public enum Level {
        /** Incremental when the disk's chain and bitmap allow it, else a full in a new chain. */
        AUTO,
        /** A full backup starting a new chain. */
        FULL,
        /** An incremental; refused when the chain or its bitmap cannot take one. */
        INC
    }

    public BackupRequest {
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(level, "level");
        devices = List.copyOf(devices);
        excluded = List.copyOf(excluded);
        Objects.requireNonNull(jobTimeout, "jobTimeout");
        Objects.requireNonNull(pointInTime, "pointInTime");
        Objects.requireNonNull(newChainPolicy, "newChainPolicy");
        if (speedBytesPerSec < 0) {
            throw new IllegalArgumentException("speed must be >= 0");
        }
    }

    /**
     * AUTO level, every disk, no speed limit, uncompressed, 6 h job timeout, no quiesce nor
     * pause, a new chain monthly, progress in log lines.
     */
    public static BackupRequest of(Path qmpSocket, Path target) {
        return new BackupRequest(qmpSocket, target, Level.AUTO, List.of(), List.of(), 0, false, null, 0,
                Duration.ofHours(6), PointInTime.Options.NONE, NewChainPolicy.DEFAULT, false);
    }

    public BackupRequest withLevel(Level l) {
        return new BackupRequest(qmpSocket, target, l, devices, excluded, speedBytesPerSec, compress, instance, epoch,
                jobTimeout, pointInTime, newChainPolicy, progressBar);
    }

    public BackupRequest withDevices(List<String> only) {
        return new BackupRequest(qmpSocket, target, level, only, excluded, speedBytesPerSec, compress, instance, epoch,
                jobTimeout, pointInTime, newChainPolicy, progressBar);
    }

    public BackupRequest withExcluded(List<String> leaveOut) {
        return new BackupRequest(qmpSocket, target, level, devices, leaveOut, speedBytesPerSec, compress, instance,
                epoch, jobTimeout, pointInTime, newChainPolicy, progressBar);
    }

    public BackupRequest withSpeed(long bytesPerSec) {
        return new BackupRequest(qmpSocket, target, level, devices, excluded, bytesPerSec, compress, instance, epoch,
                jobTimeout, pointInTime, newChainPolicy, progressBar);
    }

    public BackupRequest withCompress(boolean on) {
        return new BackupRequest(qmpSocket, target, level, devices, excluded, speedBytesPerSec, on, instance, epoch,
                jobTimeout, pointInTime, newChainPolicy, progressBar);
    }

    public BackupRequest withInstance(String name) {
        return new BackupRequest(qmpSocket, target, level, devices, excluded, speedBytesPerSec, compress, name, epoch,
                jobTimeout, pointInTime, newChainPolicy, progressBar);
    }

    public BackupRequest withEpoch(long e) {
        return new BackupRequest(qmpSocket, target, level, devices, excluded, speedBytesPerSec, compress, instance, e,
                jobTimeout, pointInTime, newChainPolicy, progressBar);
    }

    public BackupRequest withJobTimeout(Duration t) {
        return new BackupRequest(qmpSocket, target, level, devices, excluded, speedBytesPerSec, compress, instance,
                epoch, t, pointInTime, newChainPolicy, progressBar);
    }

    /** Quiesce through the guest agent on this socket (null: no quiesce). */
    public BackupRequest withGuestAgent(Path socket) {
        return withPointInTime(new PointInTime.Options(socket, pointInTime.requireQuiesce(), pointInTime.pause(),
                pointInTime.freezeTimeout()));
    }

    /** Fail instead of backing up un-quiesced when the freeze fails. */
    public BackupRequest withRequireQuiesce(boolean required) {
        return withPointInTime(new PointInTime.Options(pointInTime.guestAgent(), required, pointInTime.pause(),
                pointInTime.freezeTimeout()));
    }

    /** Pause the VM around the transaction (for guests without an agent). */
    public BackupRequest withPause(boolean on) {
        return withPointInTime(new PointInTime.Options(pointInTime.guestAgent(), pointInTime.requireQuiesce(), on,
                pointInTime.freezeTimeout()));
    }

    public BackupRequest withPointInTime(PointInTime.Options p) {
        return new BackupRequest(qmpSocket, target, level, devices, excluded, speedBytesPerSec, compress, instance,
                epoch, jobTimeout, p, newChainPolicy, progressBar);
    }

    public BackupRequest withNewChainPolicy(NewChainPolicy policy) {
        return new BackupRequest(qmpSocket, target, level, devices, excluded, speedBytesPerSec, compress, instance,
                epoch, jobTimeout, pointInTime, policy, progressBar);
    }

    public BackupRequest withProgressBar(boolean on) {
        return new BackupRequest(qmpSocket, target, level, devices, excluded, speedBytesPerSec, compress, instance,
                epoch, jobTimeout, pointInTime, newChainPolicy, on);
    }
}

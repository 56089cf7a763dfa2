package io.resilientkvm.exporter;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.exporter.lock.ExporterLock;
import io.resilientkvm.exporter.repository.Repository;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

/**
 * Takes one live backup of a running QEMU's disks into a repository, qmpbackup-style: the entry
 * point, which holds the repository lock (one exporter per VM) and the QMP connection around a
 * {@link BackupRun}.
 *
 * <p>Per run: clean what a crashed run left (partial files, QEMU jobs and target nodes), select
 * the disks ({@link DeviceSelection}), choose each disk's level ({@link LevelPolicy}: AUTO takes
 * an incremental when its chain is open and its bitmap is on the VM and consistent, else a full
 * in a new chain; an inconsistent bitmap is removed first), create the targets, run all jobs at
 * one point in time and publish the files with their manifests. A failed job leaves no file and
 * no new bitmap, and keeps the chain's bitmap bits, so a retry loses nothing
 * ({@link FailedBackupCleanup}).
 */
public final class Exporter {
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    private Exporter() {
    }

    /** Takes the repository lock, connects to {@link BackupRequest#qmpSocket()} and backs up. */
    public static BackupResult backup(BackupRequest request) throws OperatorException {
        if (request.qmpSocket() == null) {
            throw new BadInputException("no QMP socket given: pass the VM's QMP socket (qemu -qmp unix:PATH,server=on)");
        }
        try (ExporterLock lock = ExporterLock.acquire(request.target())) {
            QmpClient qmp;
            try {
                qmp = QmpClient.connect(request.qmpSocket(), CONNECT_TIMEOUT);
            } catch (QmpException e) {
                throw new OperationFailedException("cannot talk QMP on " + request.qmpSocket() + ": " + e.getMessage()
                        + " (is the VM running, and no other client connected?)", e);
            }
            try (qmp) {
                return run(request, qmp, Clock.systemUTC());
            }
        } catch (IOException e) {
            throw failed(request, e);
        }
    }

    /**
     * Takes the repository lock and backs up through an already connected QMP client (QEMU
     * serves one client per QMP socket, so a supervisor passes its own).
     */
    public static BackupResult backup(BackupRequest request, QmpClient qmp) throws OperatorException {
        return backup(request, qmp, Clock.systemUTC());
    }

    /** As {@link #backup(BackupRequest, QmpClient)}, the new-chain policy's time from {@code clock}. */
    public static BackupResult backup(BackupRequest request, QmpClient qmp, Clock clock) throws OperatorException {
        try (ExporterLock lock = ExporterLock.acquire(request.target())) {
            return run(request, qmp, clock);
        } catch (IOException e) {
            throw failed(request, e);
        }
    }

    private static BackupResult run(BackupRequest request, QmpClient qmp, Clock clock)
            throws IOException, OperatorException {
        return new BackupRun(request, qmp, new Repository(request.target()), new LevelPolicy(clock)).execute();
    }

    private static OperationFailedException failed(BackupRequest request, IOException e) {
        return new OperationFailedException("backup into " + request.target() + " failed: " + e.getMessage(), e);
    }

    /**
     * Removes dirty bitmaps from the running VM and closes the repository chains that used them,
     * so the next backup of those disks starts a new chain with a full. Takes the repository lock
     * and refuses while any block job runs on the VM.
     *
     * @param target  the repository whose chains used the bitmaps
     * @param qmp     a connected client of the VM
     * @param devices the disks whose {@code qmpbackup-*} bitmaps go when {@code names} is empty;
     *                empty for every disk
     * @param names   the bitmaps to remove by name; empty for every {@code qmpbackup-*} bitmap of
     *                {@code devices}
     * @return the removed bitmaps as {@code device/bitmap}
     * @throws BadInputException a named bitmap or device is not on the VM
     * @throws RefusedException  an exporter holds the lock, or a block job runs
     */
    public static List<String> removeBitmaps(Path target, QmpClient qmp, List<String> devices, List<String> names)
            throws OperatorException {
        try (ExporterLock lock = ExporterLock.acquire(target)) {
            return new BitmapMaintenance(qmp).removeOnRequest(new Repository(target), devices, names);
        } catch (IOException e) {
            throw new OperationFailedException("removing bitmaps (repository " + target + "): " + e.getMessage(), e);
        }
    }

    /** The bitmap name prefix of a disk: {@code qmpbackup-<device>-}, then the chain id. */
    public static String bitmapPrefix(String device) {
        return BitmapMaintenance.prefix(device);
    }
}

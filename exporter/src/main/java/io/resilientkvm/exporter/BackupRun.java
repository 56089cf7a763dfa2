package io.resilientkvm.exporter;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.exporter.image.QemuImg;
import io.resilientkvm.exporter.progress.ProgressBars;
import io.resilientkvm.exporter.qmp.BackupTransaction;
import io.resilientkvm.exporter.qmp.BlockDevice;
import io.resilientkvm.exporter.qmp.BlockDiscovery;
import io.resilientkvm.exporter.qmp.JobOutcome;
import io.resilientkvm.exporter.qmp.JobSpec;
import io.resilientkvm.exporter.quiesce.PointInTime;
import io.resilientkvm.exporter.repository.PendingBackup;
import io.resilientkvm.exporter.repository.Repository;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One backup run over the selected disks; the caller holds the repository lock. Cleans what a
 * crashed run left, plans each disk's level, creates the targets, runs every job at one point
 * in time and publishes the files with their manifests.
 */
final class BackupRun {
    private static final Logger LOG = LoggerFactory.getLogger(BackupRun.class);

    private final BackupRequest request;
    private final QmpClient qmp;
    private final Repository repo;
    private final LevelPolicy levels;
    private final BitmapMaintenance bitmaps;
    private final FailedBackupCleanup cleanup;

    BackupRun(BackupRequest request, QmpClient qmp, Repository repo, LevelPolicy levels) {
        this.request = request;
        this.qmp = qmp;
        this.repo = repo;
        this.levels = levels;
        this.bitmaps = new BitmapMaintenance(qmp);
        this.cleanup = new FailedBackupCleanup(repo, bitmaps);
    }

    BackupResult execute() throws IOException, OperatorException {
        // QEMU first: a crashed run's job may still be writing into the partial file.
        BackupTransaction.cleanStale(qmp);
        repo.cleanStale();
        List<BlockDevice> devices = DeviceSelection.select(request, BlockDiscovery.discover(qmp));
        String instance = request.instance() != null ? request.instance()
                : qmp.execute("query-name").path("name").asText("vm");
        List<DevicePlan> plans = new ArrayList<>();
        try {
            for (BlockDevice d : devices) {
                plans.add(plan(d));
            }
            for (DevicePlan p : plans) {
                createTarget(p);
            }
        } catch (IOException | OperatorException | RuntimeException e) {
            for (DevicePlan p : plans) {
                repo.abandon(p.pending());
            }
            throw e;
        }
        return publish(plans, runJobs(plans), instance);
    }

    private DevicePlan plan(BlockDevice d) throws IOException, OperatorException {
        Optional<Chain> chain = repo.newestChain(d.name());
        LevelPolicy.Decision decision = levels.decide(request.level(), request.newChainPolicy(), d, chain.orElse(null));
        if (!decision.incremental()) {
            bitmaps.dropInconsistent(d, chain.orElse(null));
            LOG.info("{}: full backup in a new chain: {}", d.name(), decision.whyNewChain());
        }
        PendingBackup p = repo.begin(d.name(), decision.incremental() ? Level.INC : Level.FULL, chain.orElse(null),
                BitmapMaintenance.prefix(d.name()));
        return new DevicePlan(d, p, chain.orElse(null));
    }

    private static void createTarget(DevicePlan p) throws IOException {
        PendingBackup b = p.pending();
        if (b.level() == Level.FULL) {
            QemuImg.createFull(b.partialFile(), p.device().virtualSize(), p.device().clusterSize());
        } else {
            QemuImg.createIncremental(b.partialFile(), b.parent(), p.device().virtualSize(), p.device().clusterSize());
        }
    }

    /** All jobs in one transaction, inside the quiesce or pause; a broken QMP leaves no partial file. */
    private List<JobOutcome> runJobs(List<DevicePlan> plans) throws IOException, OperatorException {
        List<JobSpec> specs = plans.stream().map(p -> new JobSpec(p.device(), p.pending().level() == Level.INC,
                p.pending().partialFile(), p.pending().bitmap(), p.pending().level() == Level.FULL)).toList();
        try (PointInTime pointInTime = new PointInTime(qmp, request.pointInTime());
                ProgressBars bars = request.progressBar() ? new ProgressBars(System.err) : null) {
            BackupTransaction.Hooks hooks = new BackupTransaction.Hooks() {
                @Override
                public void beforeTransaction() throws QmpException {
                    pointInTime.hold();
                }

                @Override
                public void afterTransaction() {
                    pointInTime.release();
                }
            };
            return new BackupTransaction(qmp, new BackupTransaction.Options(request.speedBytesPerSec(),
                    request.compress(), request.jobTimeout())).run(specs, hooks, bars);
        } catch (QmpException | RuntimeException e) {
            for (DevicePlan p : plans) {
                cleanup.cleanUp(p);
                if (p.pending().level() == Level.INC) {
                    // The job may have concluded and cleared its bits before QMP broke off.
                    cleanup.forgetChain(p, "its incremental " + p.pending().file().getFileName()
                            + " was cut off (" + e.getMessage() + ")");
                }
            }
            if (e instanceof QmpException q) {
                throw new OperationFailedException("backup of " + plans.stream().map(p -> p.device().name())
                        .toList() + " into " + repo.root() + " failed: QMP broke off during the jobs (" + q.getMessage()
                        + "); did QEMU die or quit? The partial files were removed and the existing backups are "
                        + "intact; the next backup of a disk whose incremental was cut off starts a new chain", q);
            }
            throw e;
        }
    }

    private BackupResult publish(List<DevicePlan> plans, List<JobOutcome> outcomes, String instance)
            throws IOException, OperatorException {
        List<DeviceBackup> done = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        List<Future<BackupManifest>> published = ParallelPublisher.start(repo, plans, outcomes, instance,
                request.epoch());
        for (int i = 0; i < plans.size(); i++) {
            DevicePlan p = plans.get(i);
            JobOutcome o = outcomes.get(i);
            if (!o.ok()) {
                failures.add(p.device().name() + ": " + o.error() + " (target " + p.pending().file() + ")"
                        + (o.error().contains("No space left on device") ? ": free space on the file system of "
                                + repo.root() + " (the chains need the full's size plus the incrementals)" : ""));
                cleanup.cleanUp(p);
                continue;
            }
            BackupManifest m;
            try {
                m = ParallelPublisher.await(published.get(i), p);
            } catch (IOException e) {
                failures.add(p.device().name() + ": cannot publish " + p.pending().file() + ": " + e.getMessage());
                cleanup.cleanUp(p);
                if (p.pending().level() == Level.INC) {
                    cleanup.forgetChain(p, "publishing " + p.pending().file().getFileName() + " failed after its "
                            + "job had cleared the bitmap (" + e.getMessage() + ")");
                }
                continue;
            }
            done.add(done(p, o, m));
            if (m.level() == Level.FULL) {
                bitmaps.dropOtherChains(p.device(), m.bitmap());
            }
        }
        if (!failures.isEmpty()) {
            throw new OperationFailedException("backup failed: " + String.join("; ", failures)
                    + (done.isEmpty() ? "" : " (done: " + done.stream().map(DeviceBackup::device).toList() + ")")
                    + "; the bitmaps kept their bits, a retry loses nothing");
        }
        return new BackupResult(done);
    }

    private static DeviceBackup done(DevicePlan p, JobOutcome o, BackupManifest m) {
        double seconds = m.durationMillis() / 1000.0;
        DeviceBackup b = new DeviceBackup(p.device().name(), p.pending().file(), o.bytesTransferred(), seconds,
                seconds > 0 ? o.bytesTransferred() / 1e6 / seconds : 0, m);
        LOG.info("{}: {} backup done: {} bytes in {} s ({} MB/s), {}", p.device().name(), m.level(),
                o.bytesTransferred(), String.format("%.2f", seconds), String.format("%.1f", b.mbPerSec()),
                p.pending().file());
        return b;
    }
}

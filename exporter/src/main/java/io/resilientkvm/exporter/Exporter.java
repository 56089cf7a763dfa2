package io.resilientkvm.exporter;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.exporter.image.QemuImg;
import io.resilientkvm.exporter.lock.ExporterLock;
import io.resilientkvm.exporter.progress.ProgressBars;
import io.resilientkvm.exporter.quiesce.PointInTime;
import io.resilientkvm.exporter.qmp.BackupTransaction;
import io.resilientkvm.exporter.qmp.BlockDevice;
import io.resilientkvm.exporter.qmp.BlockDiscovery;
import io.resilientkvm.exporter.qmp.DirtyBitmap;
import io.resilientkvm.exporter.qmp.JobOutcome;
import io.resilientkvm.exporter.qmp.JobSpec;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.exporter.repository.JobFigures;
import io.resilientkvm.exporter.repository.PendingBackup;
import io.resilientkvm.exporter.repository.Repository;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes one live backup of a running QEMU's disks into a repository, qmpbackup-style.
 *
 * <p>Per run: take the repository lock (one exporter per VM), clean what a crashed run left
 * (partial files, QEMU jobs and target nodes), discover the disks, choose each disk's level
 * (AUTO: incremental when its chain is open and its bitmap is on the VM and consistent, else a
 * full in a new chain; an inconsistent bitmap is removed first), create the targets, run all
 * jobs at one point in time and publish the files with their manifests. A failed job leaves
 * no file and no new bitmap, and keeps the chain's bitmap bits, so a retry loses nothing.
 */
public final class Exporter {
    private static final Logger LOG = LoggerFactory.getLogger(Exporter.class);
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
                return new Run(request, qmp, new Repository(request.target())).execute();
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
        try (ExporterLock lock = ExporterLock.acquire(request.target())) {
            return new Run(request, qmp, new Repository(request.target())).execute();
        } catch (IOException e) {
            throw failed(request, e);
        }
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
    public static List<String> removeBitmaps(java.nio.file.Path target, QmpClient qmp, List<String> devices,
            List<String> names) throws OperatorException {
        try (ExporterLock lock = ExporterLock.acquire(target)) {
            for (com.fasterxml.jackson.databind.JsonNode job : qmp.execute("query-jobs")) {
                if (!"concluded".equals(job.path("status").asText())) {
                    throw new RefusedException("block job " + job.path("id").asText() + " (" + job.path("type").asText()
                            + ", " + job.path("status").asText() + ") runs on the VM; remove bitmaps once it ended");
                }
            }
            List<BlockDevice> disks = BlockDiscovery.discover(qmp);
            List<String> problems = new ArrayList<>();
            for (String d : devices) {
                if (disks.stream().noneMatch(x -> x.name().equals(d))) {
                    problems.add("device '" + d + "' is not a disk of this VM (disks: "
                            + disks.stream().map(BlockDevice::name).toList() + ")");
                }
            }
            List<BlockDevice> owners = new ArrayList<>();
            List<DirtyBitmap> chosen = new ArrayList<>();
            for (BlockDevice d : disks) {
                for (DirtyBitmap b : d.bitmaps()) {
                    boolean wanted = names.isEmpty() ? (devices.isEmpty() || devices.contains(d.name()))
                            && b.name().startsWith(bitmapPrefix(d.name())) : names.contains(b.name());
                    if (wanted) {
                        owners.add(d);
                        chosen.add(b);
                    }
                }
            }
            for (String n : names) {
                if (chosen.stream().noneMatch(b -> b.name().equals(n))) {
                    problems.add("bitmap '" + n + "' is on no disk of this VM (see bin/exporter --list)");
                }
            }
            if (!problems.isEmpty()) {
                throw new BadInputException(problems);
            }
            for (DirtyBitmap b : chosen) {
                if (b.busy()) {
                    throw new RefusedException("bitmap " + b.name() + " is busy (a job uses it); try again once it ended");
                }
            }
            Repository repo = new Repository(target);
            List<String> removed = new ArrayList<>();
            for (int i = 0; i < chosen.size(); i++) {
                BlockDevice d = owners.get(i);
                String name = chosen.get(i).name();
                qmp.execute("block-dirty-bitmap-remove", JsonNodeFactory.instance.objectNode()
                        .put("node", d.nodeName()).put("name", name));
                LOG.info("{}: removed bitmap {} on the operator's request", d.name(), name);
                removed.add(d.name() + "/" + name);
                for (Chain c : repo.chains(d.name())) {
                    if (c.isOpen() && c.bitmap().filter(name::equals).isPresent()) {
                        repo.close(c, "its bitmap " + name + " was removed by the operator; the next backup "
                                + "starts a new chain");
                    }
                }
            }
            return removed;
        } catch (IOException e) {
            throw new OperationFailedException("removing bitmaps (repository " + target + "): " + e.getMessage(), e);
        }
    }

    /** The bitmap name prefix of a disk: {@code qmpbackup-<device>-}, then the chain id. */
    public static String bitmapPrefix(String device) {
        return "qmpbackup-" + device + "-";
    }

    /** One disk's plan: its level, its chain, its reserved files. */
    private record Plan(BlockDevice device, PendingBackup pending, Chain chain) {}

    /** One backup run; holds the lock's scope. */
    private static final class Run {
        private final BackupRequest request;
        private final QmpClient qmp;
        private final Repository repo;

        Run(BackupRequest request, QmpClient qmp, Repository repo) {
            this.request = request;
            this.qmp = qmp;
            this.repo = repo;
        }

        BackupResult execute() throws IOException, OperatorException {
            // QEMU first: a crashed run's job may still be writing into the partial file.
            BackupTransaction.cleanStale(qmp);
            repo.cleanStale();
            List<BlockDevice> devices = select(BlockDiscovery.discover(qmp));
            String instance = request.instance() != null ? request.instance()
                    : qmp.execute("query-name").path("name").asText("vm");
            List<Plan> plans = new ArrayList<>();
            try {
                for (BlockDevice d : devices) {
                    plans.add(plan(d));
                }
                for (Plan p : plans) {
                    createTarget(p);
                }
            } catch (IOException | OperatorException | RuntimeException e) {
                for (Plan p : plans) {
                    repo.abandon(p.pending());
                }
                throw e;
            }
            List<JobSpec> specs = plans.stream().map(p -> new JobSpec(p.device(), p.pending().level() == Level.INC,
                    p.pending().partialFile(), p.pending().bitmap(), p.pending().level() == Level.FULL)).toList();
            List<JobOutcome> outcomes;
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
                outcomes = new BackupTransaction(qmp, new BackupTransaction.Options(request.speedBytesPerSec(),
                        request.compress(), request.jobTimeout())).run(specs, hooks, bars);
            } catch (QmpException | RuntimeException e) {
                for (Plan p : plans) {
                    cleanUpFailed(p);
                    if (p.pending().level() == Level.INC) {
                        // The job may have concluded and cleared its bits before QMP broke off.
                        forgetChain(p, "its incremental " + p.pending().file().getFileName()
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
            return publish(plans, outcomes, instance);
        }

        private List<BlockDevice> select(List<BlockDevice> all) throws BadInputException {
            List<String> names = all.stream().map(BlockDevice::name).toList();
            List<String> problems = new ArrayList<>();
            for (String wanted : request.devices()) {
                if (!names.contains(wanted)) {
                    problems.add("device '" + wanted + "' is not a disk of this VM (disks: " + names + ")");
                }
            }
            if (!problems.isEmpty()) {
                throw new BadInputException(problems);
            }
            List<BlockDevice> chosen = all.stream()
                    .filter(d -> request.devices().isEmpty() ? !d.readOnly() : request.devices().contains(d.name()))
                    .filter(d -> !request.excluded().contains(d.name())).toList();
            if (chosen.isEmpty()) {
                throw new BadInputException("no disk to back up (disks: " + names + ", excluded: "
                        + request.excluded() + ")");
            }
            for (BlockDevice d : chosen) {
                if (!BackupManifest.isPlainName(d.name())) {
                    problems.add("device '" + d.name() + "' cannot name a repository folder (it holds '..'): give the "
                            + "disk another id, or leave it out with --exclude");
                }
            }
            if (!problems.isEmpty()) {
                throw new BadInputException(problems);
            }
            return chosen;
        }

        private Plan plan(BlockDevice d) throws IOException, OperatorException {
            Optional<Chain> chain = repo.newestChain(d.name());
            String whyNotInc = whyNoIncremental(d, chain.orElse(null));
            boolean inc = switch (request.level()) {
                case FULL -> false;
                case INC -> {
                    if (whyNotInc != null) {
                        throw new RefusedException("cannot take an incremental backup of " + d.name() + ": "
                                + whyNotInc + "; take a full backup (level full or auto)");
                    }
                    yield true;
                }
                case AUTO -> {
                    if (whyNotInc == null) {
                        // The chain could go on: the policy may still end it (age or length).
                        whyNotInc = request.newChainPolicy().whyNewChain(chain.orElseThrow(), Instant.now())
                                .orElse(null);
                    }
                    yield whyNotInc == null;
                }
            };
            if (!inc) {
                dropInconsistentBitmap(d, chain.orElse(null));
                if (request.level() == BackupRequest.Level.AUTO) {
                    LOG.info("{}: full backup in a new chain: {}", d.name(), whyNotInc);
                } else {
                    LOG.info("{}: full backup in a new chain: asked for (level full / --new-chain)", d.name());
                }
            }
            PendingBackup p = repo.begin(d.name(), inc ? Level.INC : Level.FULL, chain.orElse(null),
                    bitmapPrefix(d.name()));
            return new Plan(d, p, chain.orElse(null));
        }

        /** Null when an incremental is possible, else why not. */
        private static String whyNoIncremental(BlockDevice d, Chain chain) {
            if (chain == null || chain.backups().isEmpty()) {
                return "no backup chain yet";
            }
            if (!chain.isOpen()) {
                return "chain " + chain.chainId() + " is closed (" + chain.closedReason() + ")";
            }
            String name = chain.bitmap().orElseThrow();
            Optional<DirtyBitmap> bitmap = d.bitmap(name);
            if (bitmap.isEmpty()) {
                return "bitmap " + name + " is missing on the VM (QEMU restarted without a clean shutdown?)";
            }
            if (bitmap.get().inconsistent()) {
                return "bitmap " + name + " is inconsistent (QEMU was killed while using it)";
            }
            if (bitmap.get().busy()) {
                return "bitmap " + name + " is busy (another job uses it)";
            }
            if (!bitmap.get().recording()) {
                return "bitmap " + name + " is disabled: it missed writes";
            }
            long size = chain.newest().orElseThrow().virtualSize();
            if (size != d.virtualSize()) {
                return "the disk's size changed from " + size + " to " + d.virtualSize() + " bytes";
            }
            return null;
        }

        /** An inconsistent bitmap can never be used again; remove it on the running VM. */
        private void dropInconsistentBitmap(BlockDevice d, Chain chain) throws QmpException {
            for (DirtyBitmap b : d.bitmaps()) {
                if (b.inconsistent() && b.name().startsWith(bitmapPrefix(d.name()))) {
                    LOG.warn("{}: bitmap {} is inconsistent (QEMU was killed while using it): removing it; chain {} "
                            + "takes no more incrementals, a new chain starts with a full backup", d.name(), b.name(),
                            chain == null ? "-" : chain.chainId());
                    removeBitmap(d, b.name());
                }
            }
        }

        private void createTarget(Plan p) throws IOException {
            PendingBackup b = p.pending();
            if (b.level() == Level.FULL) {
                QemuImg.createFull(b.partialFile(), p.device().virtualSize(), p.device().clusterSize());
            } else {
                QemuImg.createIncremental(b.partialFile(), b.parent(), p.device().virtualSize(),
                        p.device().clusterSize());
            }
        }

        private BackupResult publish(List<Plan> plans, List<JobOutcome> outcomes, String instance)
                throws IOException, OperatorException {
            List<DeviceBackup> done = new ArrayList<>();
            List<String> failures = new ArrayList<>();
            List<Future<BackupManifest>> published = publishInParallel(plans, outcomes, instance);
            for (int i = 0; i < plans.size(); i++) {
                Plan p = plans.get(i);
                JobOutcome o = outcomes.get(i);
                if (!o.ok()) {
                    failures.add(p.device().name() + ": " + o.error() + " (target " + p.pending().file() + ")"
                            + (o.error().contains("No space left on device") ? ": free space on the file system of "
                                    + repo.root() + " (the chains need the full's size plus the incrementals)" : ""));
                    cleanUpFailed(p);
                    continue;
                }
                BackupManifest m;
                try {
                    m = awaitPublished(published.get(i), p);
                } catch (IOException e) {
                    failures.add(p.device().name() + ": cannot publish " + p.pending().file() + ": " + e.getMessage());
                    cleanUpFailed(p);
                    if (p.pending().level() == Level.INC) {
                        forgetChain(p, "publishing " + p.pending().file().getFileName() + " failed after its job had "
                                + "cleared the bitmap (" + e.getMessage() + ")");
                    }
                    continue;
                }
                double seconds = m.durationMillis() / 1000.0;
                done.add(new DeviceBackup(p.device().name(), p.pending().file(), o.bytesTransferred(), seconds,
                        seconds > 0 ? o.bytesTransferred() / 1e6 / seconds : 0, m));
                LOG.info("{}: {} backup done: {} bytes in {} s ({} MB/s), {}", p.device().name(), m.level(),
                        o.bytesTransferred(), String.format("%.2f", seconds),
                        String.format("%.1f", done.get(done.size() - 1).mbPerSec()), p.pending().file());
                if (m.level() == Level.FULL) {
                    dropOtherChainBitmaps(p.device(), m.bitmap());
                }
            }
            if (!failures.isEmpty()) {
                throw new OperationFailedException("backup failed: " + String.join("; ", failures)
                        + (done.isEmpty() ? "" : " (done: " + done.stream().map(DeviceBackup::device).toList() + ")")
                        + "; the bitmaps kept their bits, a retry loses nothing");
            }
            return new BackupResult(done);
        }

        /**
         * Syncs, hashes and describes each finished file, the disks in parallel (SHA-256 is
         * CPU-bound and sequential within a file, so one thread per file).
         */
        private List<Future<BackupManifest>> publishInParallel(List<Plan> plans, List<JobOutcome> outcomes,
                String instance) {
            ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(plans.size(),
                    Runtime.getRuntime().availableProcessors())), r -> {
                        Thread t = new Thread(r, "publish");
                        t.setDaemon(true);
                        return t;
                    });
            try {
                List<Future<BackupManifest>> out = new ArrayList<>();
                for (int i = 0; i < plans.size(); i++) {
                    Plan p = plans.get(i);
                    JobOutcome o = outcomes.get(i);
                    out.add(!o.ok() ? null : pool.submit(() -> repo.complete(p.pending(), instance,
                            p.device().virtualSize(), request.epoch(),
                            new JobFigures(o.startedAt(), o.finishedAt(), o.bytesTransferred()))));
                }
                return out;
            } finally {
                pool.shutdown(); // the submitted work still runs
            }
        }

        private static BackupManifest awaitPublished(Future<BackupManifest> f, Plan p) throws IOException {
            try {
                return f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while publishing " + p.pending().file());
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                if (e.getCause() instanceof RuntimeException r) {
                    throw r;
                }
                throw new IOException(e.getCause());
            }
        }

        /** A failed backup leaves no file, and a failed full leaves no new bitmap. */
        private void cleanUpFailed(Plan p) throws IOException {
            repo.abandon(p.pending());
            if (p.pending().level() == Level.FULL) {
                try {
                    removeBitmap(p.device(), p.pending().bitmap());
                } catch (QmpException e) {
                    LOG.debug("{}: no new bitmap to remove: {}", p.device().name(), e.getMessage());
                }
            }
        }

        /**
         * A successful incremental job cleared its bitmap's bits; if its file is then lost, those
         * writes are in no backup: the chain must end here, so the next run takes a full.
         */
        private void forgetChain(Plan p, String reason) {
            LOG.warn("{}: {}; chain {} takes no more incrementals, the next backup is a full", p.device().name(),
                    reason, p.pending().chainId());
            try {
                removeBitmap(p.device(), p.pending().bitmap());
            } catch (QmpException e) {
                LOG.warn("{}: could not remove bitmap {}: {}", p.device().name(), p.pending().bitmap(), e.getMessage());
            }
            try {
                if (p.chain() != null) {
                    repo.close(p.chain(), reason);
                }
            } catch (IOException e) {
                LOG.warn("{}: could not close chain {}: {}", p.device().name(), p.pending().chainId(), e.getMessage());
            }
        }

        /** Bitmaps of older chains only slow the VM down once a new chain has its full. */
        private void dropOtherChainBitmaps(BlockDevice d, String keep) throws QmpException {
            List<DirtyBitmap> now = BlockDiscovery.discover(qmp).stream().filter(x -> x.name().equals(d.name()))
                    .findFirst().map(BlockDevice::bitmaps).orElse(List.of());
            for (DirtyBitmap b : now) {
                if (b.name().startsWith(bitmapPrefix(d.name())) && !b.name().equals(keep)) {
                    try {
                        removeBitmap(d, b.name());
                        LOG.info("{}: removed bitmap {} of an older chain", d.name(), b.name());
                    } catch (QmpException e) {
                        LOG.warn("{}: could not remove old bitmap {}: {}", d.name(), b.name(), e.getMessage());
                    }
                }
            }
        }

        private void removeBitmap(BlockDevice d, String name) throws QmpException {
            qmp.execute("block-dirty-bitmap-remove", JsonNodeFactory.instance.objectNode()
                    .put("node", d.nodeName()).put("name", name));
        }
    }
}

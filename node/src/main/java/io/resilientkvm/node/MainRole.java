package io.resilientkvm.node;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.process.RestartPolicy;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.BackupResult;
import io.resilientkvm.exporter.DeviceBackup;
import io.resilientkvm.exporter.Exporter;
import io.resilientkvm.exporter.NewChainPolicy;
import io.resilientkvm.exporter.lock.ClusterExporterLock;
import io.resilientkvm.exporter.schedule.BackupSchedule;
import io.resilientkvm.exporter.server.BackupServer;
import io.resilientkvm.importer.restore.Hold;
import io.resilientkvm.importer.restore.RestoreResult;
import io.resilientkvm.exporter.server.BackupServerSettings;
import io.resilientkvm.takeover.fencing.FenceMarker;
import io.resilientkvm.takeover.fencing.FencingWatcher;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The main's role: the VM under supervision, the backup server clones pull from, the scheduled
 * exporter that publishes every backup under this main's epoch, and the fencing watcher that
 * stops all of it the moment this node is no longer the main.
 */
final class MainRole implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MainRole.class);

    private final KvmInstance vm;
    private final BackupServer server;
    private final BackupSchedule schedule;
    private final FencingWatcher fencing;
    private final ClusterExporterLock exporterLock;
    private final String address;

    private MainRole(KvmInstance vm, BackupServer server, BackupSchedule schedule, FencingWatcher fencing,
            ClusterExporterLock exporterLock, String address) {
        this.exporterLock = exporterLock;
        this.vm = vm;
        this.server = server;
        this.schedule = schedule;
        this.fencing = fencing;
        this.address = address;
    }

    /**
     * Starts the main's services for {@code epoch}. A promoted clone first puts its newest
     * verified backup under the VM's disk (an instant overlay), and takes a full backup at once
     * to start its own chain.
     */
    static MainRole start(NodeContext ctx, Epoch epoch, boolean promoted, FencingWatcher.FenceAction onFence,
            FenceMarker marker) throws OperatorException {
        NodeConfig cfg = ctx.config();
        InstanceLayout layout = cfg.layout();
        FencingWatcher fencing = FencingWatcher.start(ctx.client(), ctx.layout(), ctx.node(), epoch,
                cfg.zookeeper().suspendBound(), cfg.zookeeper().sessionTimeout(), onFence, marker);
        KvmInstance vm = null;
        BackupServer server = null;
        ClusterExporterLock exporterLock = null;
        try {
            // One exporter per instance, even if an operator starts bin/exporter on another host.
            exporterLock = ClusterExporterLock.acquire(ctx.client(), ctx.layout().exporterLockPath(), ctx.node(),
                    ClusterExporterLock.DEFAULT_ACQUIRE_TIMEOUT);
            List<Hold> toRelease = new ArrayList<>();
            if (promoted) {
                String mainDevice = ctx.params().kvm().diskType().mainDeviceId();
                for (RestoreResult r : Promotion.restoreDisks(ctx)) {
                    if (r.point().device().equals(mainDevice)) {
                        r.hold().ifPresent(toRelease::add);
                    }
                }
            }
            Flattening flattening = new Flattening(layout.backupQmpSocket(), layout.backupRepository(), toRelease);
            vm = KvmInstance.prepare(cfg.instance(), ctx.params().kvm(), cfg.host(), layout);
            // Returns once QEMU answers QMP (the supervisor holds run/qmp.sock from then on).
            vm.start(RestartPolicy.DEFAULT);
            server = BackupServer.start(BackupServerSettings.from(cfg.backupServer(), layout.backupRepository()));
            String address = server.baseUri().toString();
            ManifestCatalog catalog = new ManifestCatalog(ctx.client(), ctx.layout());
            NewChainPolicy policy = newChainPolicy(ctx);
            Supplier<BackupRequest> requests = () -> BackupRequest.of(layout.backupQmpSocket(), layout.backupRepository())
                    .withInstance(cfg.instance()).withEpoch(epoch.number())
                    .withSpeed(ctx.resilient().speedLimitBytesPerSecond()).withCompress(ctx.resilient().compress())
                    .withNewChainPolicy(policy)
                    // Quiesced through the guest agent when the node config names its socket (as bin/exporter --config does).
                    .withGuestAgent(cfg.host().guestAgentSocket().orElse(null));
            BackupSchedule schedule = new BackupSchedule(ctx.resilient().backupCron(), requests,
                    request -> {
                        BackupResult result = publish(catalog, epoch, Exporter.backup(request));
                        flattening.runOnce(); // after this main's own backup exists
                        return result;
                    }, MainRole::report, Duration.ofMinutes(5));
            if (promoted || catalog.newestPerDevice().isEmpty()) {
                schedule.runNow();
            }
            return new MainRole(vm, server, schedule, fencing, exporterLock, address);
        } catch (OperatorException | RuntimeException e) {
            if (exporterLock != null) {
                exporterLock.close();
            }
            if (server != null) {
                server.close();
            }
            if (vm != null) {
                vm.close();
            }
            fencing.close();
            throw e;
        }
    }

    private static NewChainPolicy newChainPolicy(NodeContext ctx) throws BadInputException {
        try {
            return NewChainPolicy.parse(ctx.resilient().newChainEvery());
        } catch (IllegalArgumentException e) {
            throw new BadInputException("backup-new-chain-every in " + ctx.config().parameters() + ": " + e.getMessage());
        }
    }

    private static BackupResult publish(ManifestCatalog catalog, Epoch epoch, BackupResult result) throws OperatorException {
        for (DeviceBackup b : result.backups()) {
            BackupManifest m = b.manifest();
            catalog.publish(epoch, m);
        }
        return result;
    }

    private static void report(BackupSchedule.Outcome o) {
        if (o.succeeded()) {
            for (DeviceBackup b : o.result().backups()) {
                LOG.info("Backup {} {} #{}: {} bytes in {} s ({} MB/s), published", b.device(), b.manifest().level(),
                        b.manifest().sequence(), b.bytes(), String.format("%.2f", b.seconds()), String.format("%.1f", b.mbPerSec()));
            }
        } else {
            LOG.warn("Backup failed (the next run retries): {}", o.error().getMessage());
        }
    }

    String serverAddress() {
        return address;
    }

    /** Fencing: stop the exporter and the VM now; no clean-up that could block. */
    void stopNow() {
        // The VM first: closing the schedule waits for a running backup, which may itself be
        // stuck on the ZooKeeper this main just lost (found by MainFencingIT).
        vm.close();
        server.close();
        schedule.close();
        exporterLock.close();
    }

    @Override
    public void close() {
        fencing.close();
        schedule.close();
        server.close();
        vm.close();
        exporterLock.close();
    }
}

package io.resilientkvm.cli.exporter;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.BackupResult;
import io.resilientkvm.exporter.DeviceBackup;
import io.resilientkvm.exporter.Exporter;
import io.resilientkvm.exporter.NewChainPolicy;
import io.resilientkvm.exporter.lock.ClusterExporterLock;
import io.resilientkvm.exporter.qmp.BlockDevice;
import io.resilientkvm.exporter.qmp.BlockDiscovery;
import io.resilientkvm.exporter.qmp.DirtyBitmap;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.params.InstanceParameters;
import io.resilientkvm.engine.params.ParameterFiles;
import io.resilientkvm.engine.params.ResilientParameters;
import io.resilientkvm.exporter.schedule.BackupRunner;
import io.resilientkvm.exporter.schedule.BackupSchedule;
import io.resilientkvm.exporter.schedule.BackupTime;
import io.resilientkvm.schemas.SchemaKind;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bin/exporter}: one live backup of any running QEMU, qmpbackup-style. Full or
 * incremental per disk, all disks at the same point, into a repository of chains.
 */
@Command(name = "exporter", mixinStandardHelpOptions = true, versionProvider = io.resilientkvm.cli.Version.class,
        description = {"Takes one live backup of a running QEMU through QMP, with persistent dirty bitmaps.",
                "Every writable disk (or those chosen with --device) is backed up at the same point, into",
                "TARGET/<device>/<chain>/FULL-*.qcow2 and INC-*.qcow2, each with a manifest."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:done", "1:the backup failed (the chain is left intact; run again)", "2:bad input or usage",
                "3:refused: another exporter holds the repository (or cluster) lock, or a job runs while removing bitmaps"})
public final class ExporterCommand extends CliCommand {
    @Option(names = "--qmp", paramLabel = "SOCKET", description = "the VM's QMP unix socket (bin/kvm run gives run/qmp-backup.sock)")
    Path qmp;

    @Option(names = "--config", paramLabel = "NODE.json",
            description = {"run scheduled: the node's instance (run/qmp-backup.sock into srv/backup), on the cron of",
                    "resiliency-backup-periodicity in its parameters (default: daily at a random time chosen once and kept",
                    "in etc/.backup-time, as the seed does), until stopped"})
    Path config;

    @Option(names = "--now", description = "with --config: also take a backup at start")
    boolean now;

    @Option(names = "--target", paramLabel = "DIR", description = "the backup repository (required unless --list)")
    Path target;

    @Option(names = "--level", paramLabel = "LEVEL", defaultValue = "auto",
            description = "auto (incremental when the chain allows it, else full), full or inc; default ${DEFAULT-VALUE}")
    BackupRequest.Level level;

    @Option(names = "--device", paramLabel = "NAME", description = "back up only this disk (repeatable); default every writable disk")
    List<String> devices = new ArrayList<>();

    @Option(names = "--exclude", paramLabel = "NAME", description = "leave this disk out (repeatable)")
    List<String> excluded = new ArrayList<>();

    @Option(names = "--speed", paramLabel = "BYTES_PER_S", defaultValue = "0", description = "copy speed limit; 0 for none")
    long speed;

    @Option(names = "--compress", description = "compress the backup's clusters")
    boolean compress;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "21600", description = "cancel the job after this long; default ${DEFAULT-VALUE}")
    long timeoutSeconds;

    @Option(names = "--guest-agent", paramLabel = "SOCKET",
            description = {"quiesce through the QEMU guest agent on this unix socket: fsfreeze just before the backup",
                    "transaction, thaw right after it (always); with --config default: qemu.guest-agent-socket"})
    Path guestAgent;

    @Option(names = "--require-quiesce", description = "fail (exit 1) instead of backing up un-quiesced when the freeze fails")
    boolean requireQuiesce;

    @Option(names = "--pause", description = "pause the VM (QMP stop/cont) around the backup transaction, for guests without an agent")
    boolean pause;

    @Option(names = "--new-chain", description = "start a new chain now: same as --level full")
    boolean newChain;

    @Option(names = "--new-chain-every", paramLabel = "AGE|N",
            description = {"AUTO starts a new chain when the chain's full is this old (7D, 2W, 1M) or holds N incrementals;",
                    "default 1M, with --config: backup-new-chain-every"})
    String newChainEvery;

    @Option(names = "--list", description = "list the VM's disks and their dirty bitmaps, back up nothing")
    boolean list;

    @Option(names = "--remove-bitmap", paramLabel = "NAME",
            description = "remove this dirty bitmap from the VM (repeatable) and close the chain that used it; back up nothing")
    List<String> removeBitmap = new ArrayList<>();

    @Option(names = "--remove-bitmaps",
            description = "remove every qmpbackup-* bitmap of the disks (or of --device) and close their chains; back up nothing")
    boolean removeBitmaps;

    @Option(names = "--json", description = "print the result as JSON")
    boolean json;

    public static void main(String[] args) {
        CommandRunner.main(new ExporterCommand(), args);
    }

    @Override
    protected ExitStatus execute() throws Exception {
        PrintWriter out = out();
        if (config != null) {
            return scheduled(out);
        }
        if (qmp == null) {
            throw new BadInputException("--qmp: missing; give the VM's QMP socket, or --config NODE.json to run scheduled");
        }
        if (list) {
            return list(out);
        }
        if (target == null) {
            throw new BadInputException("--target: missing; give the backup repository directory");
        }
        if (removeBitmaps || !removeBitmap.isEmpty()) {
            return removeBitmaps(out);
        }
        BackupRequest request = BackupRequest.of(qmp, target).withLevel(effectiveLevel()).withDevices(devices)
                .withExcluded(excluded).withSpeed(speed).withCompress(compress)
                .withJobTimeout(Duration.ofSeconds(timeoutSeconds)).withGuestAgent(guestAgent)
                .withRequireQuiesce(requireQuiesce).withPause(pause)
                .withNewChainPolicy(policy(newChainEvery == null ? "1M" : newChainEvery, "--new-chain-every"))
                .withProgressBar(System.console() != null && !json);
        BackupResult result = Exporter.backup(request);
        if (json) {
            ArrayNode a = JSON.createArrayNode();
            for (DeviceBackup b : result.backups()) {
                a.addObject().put("device", b.device()).put("file", b.file().toString()).put("level", b.manifest().level().name())
                        .put("chain", b.manifest().chainId()).put("sequence", b.manifest().sequence()).put("bytes", b.bytes())
                        .put("seconds", b.seconds()).put("mbPerSecond", b.mbPerSec()).put("sha256", b.manifest().sha256());
            }
            printJson(a);
        } else {
            for (DeviceBackup b : result.backups()) {
                out.printf("%-12s %-4s chain %s #%d  %,d bytes in %.2f s (%.1f MB/s)  %s%n", b.device(), b.manifest().level(),
                        b.manifest().chainId(), b.manifest().sequence(), b.bytes(), b.seconds(), b.mbPerSec(), b.file());
            }
        }
        return ExitStatus.OK;
    }

    private BackupRequest.Level effectiveLevel() throws BadInputException {
        if (newChain && level == BackupRequest.Level.INC) {
            throw new BadInputException("--new-chain with --level inc: a new chain starts with a full; drop one of them");
        }
        if (requireQuiesce && guestAgent == null && config == null) {
            throw new BadInputException("--require-quiesce needs --guest-agent SOCKET (the guest agent's unix socket)");
        }
        return newChain ? BackupRequest.Level.FULL : level;
    }

    private static NewChainPolicy policy(String text, String where) throws BadInputException {
        try {
            return NewChainPolicy.parse(text);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(where + ": " + e.getMessage());
        }
    }

    private ExitStatus removeBitmaps(PrintWriter out) throws Exception {
        if (removeBitmaps && !removeBitmap.isEmpty()) {
            throw new BadInputException("--remove-bitmap and --remove-bitmaps: give one of them");
        }
        List<String> removed = withQmp(client -> Exporter.removeBitmaps(target, client, devices, removeBitmap));
        if (json) {
            printJson(removed);
        } else if (removed.isEmpty()) {
            out.println("no qmpbackup bitmap to remove");
        } else {
            removed.forEach(r -> out.println("removed " + r + " (its chain is closed: the next backup is a full)"));
        }
        return ExitStatus.OK;
    }

    /** What a command does on the VM's QMP socket. */
    private interface QmpCall<T> {
        T on(QmpClient client) throws Exception;
    }

    /** Runs {@code call} on a connection to {@code --qmp}; a QMP failure names the socket and the likely cause. */
    private <T> T withQmp(QmpCall<T> call) throws Exception {
        try (QmpClient client = QmpClient.connect(qmp, Duration.ofSeconds(10))) {
            return call.on(client);
        } catch (QmpException e) {
            throw new OperationFailedException("cannot talk QMP on " + qmp + ": " + e.getMessage()
                    + " (is the VM running, and no other client connected?)", e);
        }
    }

    private ExitStatus scheduled(PrintWriter out) throws Exception {
        NodeConfig node = NodeConfig.load(config);
        InstanceParameters params = ParameterFiles.load(node.parameters(),
                node.resilient() ? SchemaKind.RESILIENT_INSTANCE : SchemaKind.KVM_INSTANCE);
        // Resolved before the lock and the schedule: a damaged etc/.backup-time stops the start here.
        BackupTime backupTime = BackupTime.resolve(params.resilient().flatMap(ResilientParameters::backupCron), node.layout().etc());
        String cron = backupTime.cron();
        long speedLimit = params.resilient().map(ResilientParameters::speedLimitBytesPerSecond).orElse(speed);
        boolean compressed = params.resilient().map(ResilientParameters::compress).orElse(compress);
        NewChainPolicy chainPolicy = policy(newChainEvery != null ? newChainEvery
                : params.resilient().map(ResilientParameters::newChainEvery).filter(t -> !t.isBlank()).orElse("1M"),
                newChainEvery != null ? "--new-chain-every" : "backup-new-chain-every in " + node.parameters());
        Path agent = guestAgent != null ? guestAgent : node.host().guestAgentSocket().orElse(null);
        if (requireQuiesce && agent == null) {
            throw new BadInputException("--require-quiesce: no guest agent socket; set qemu.guest-agent-socket in "
                    + config + " or give --guest-agent SOCKET");
        }
        Path socket = qmp != null ? qmp : node.layout().backupQmpSocket();
        Path repository = target != null ? target : node.layout().backupRepository();
        BackupRequest.Level runLevel = effectiveLevel();
        Supplier<BackupRequest> requests = () -> BackupRequest.of(socket, repository).withLevel(runLevel).withDevices(devices)
                .withExcluded(excluded).withSpeed(speedLimit).withCompress(compressed).withJobTimeout(Duration.ofSeconds(timeoutSeconds))
                .withGuestAgent(agent).withRequireQuiesce(requireQuiesce).withPause(pause).withNewChainPolicy(chainPolicy);
        CountDownLatch stopped = new CountDownLatch(1);
        // Clustered: one exporter per instance across nodes, not only per repository folder.
        try (ClusterLockHolder cluster = new ClusterLockHolder(
                ClusterExporterLock.forNode(node, ClusterExporterLock.DEFAULT_ACQUIRE_TIMEOUT).orElse(null));
                BackupSchedule schedule = new BackupSchedule(cron, requests, cluster.guard(BackupRunner.EXPORTER), o -> report(out, o),
                Duration.ofMinutes(5))) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                schedule.close();
                stopped.countDown();
            }, "exporter-shutdown"));
            out.println("exporter for " + node.instance() + " on " + node.node() + ": " + backupTime.describe() + ", next "
                    + schedule.nextFireTime().map(Object::toString).orElse("?") + ", QMP " + socket + ", repository " + repository);
            out.flush();
            if (now) {
                schedule.runNow();
            }
            stopped.await();
        }
        return ExitStatus.OK;
    }

    /** Closes the cluster lock, if any, after the schedule (try-with-resources closes in reverse). */
    private record ClusterLockHolder(ClusterExporterLock lock) implements AutoCloseable {
        /** No backup starts while a cluster lock is not owned (suspended or lost). */
        BackupRunner guard(BackupRunner runner) {
            return lock == null ? runner : lock.guard(runner, ClusterExporterLock.DEFAULT_ACQUIRE_TIMEOUT);
        }

        @Override
        public void close() {
            if (lock != null) {
                lock.close();
            }
        }
    }

    private static void report(PrintWriter out, BackupSchedule.Outcome o) {
        if (o.error() != null) {
            out.println(o.finished() + " backup failed: " + o.error().getMessage() + " (retried at the next run)");
        } else {
            for (DeviceBackup b : o.result().backups()) {
                out.printf("%s %-12s %-4s chain %s #%d  %,d bytes in %.2f s  %s%n", o.finished(), b.device(), b.manifest().level(),
                        b.manifest().chainId(), b.manifest().sequence(), b.bytes(), b.seconds(), b.file().getFileName());
            }
        }
        out.flush();
    }

    /** The bitmap's flags as words, e.g. {@code recording,persistent}. */
    static String flags(DirtyBitmap b) {
        List<String> f = new ArrayList<>();
        f.add(b.recording() ? "recording" : "DISABLED");
        if (b.busy()) {
            f.add("busy");
        }
        if (b.persistent()) {
            f.add("persistent");
        }
        if (b.inconsistent()) {
            f.add("INCONSISTENT");
        }
        return String.join(",", f);
    }

    private ExitStatus list(PrintWriter out) throws Exception {
        List<BlockDevice> disks = withQmp(BlockDiscovery::discover);
        if (json) {
            ArrayNode a = JSON.createArrayNode();
            for (BlockDevice d : disks) {
                ObjectNode o = a.addObject().put("device", d.name()).put("node", d.nodeName()).put("file", d.file())
                        .put("format", d.format()).put("virtualSize", d.virtualSize()).put("readOnly", d.readOnly());
                ArrayNode bm = o.putArray("bitmaps");
                for (DirtyBitmap b : d.bitmaps()) {
                    bm.addObject().put("name", b.name()).put("recording", b.recording()).put("busy", b.busy())
                            .put("persistent", b.persistent()).put("inconsistent", b.inconsistent())
                            .put("dirtyBytes", b.count()).put("granularity", b.granularity());
                }
            }
            printJson(a);
        } else {
            for (BlockDevice d : disks) {
                out.printf("%-12s node %-12s %,15d bytes %-6s %s%s%n", d.name(), d.nodeName(), d.virtualSize(), d.format(), d.file(),
                        d.readOnly() ? " (read-only)" : "");
                for (DirtyBitmap b : d.bitmaps()) {
                    out.printf("  bitmap %s [%s] %,d dirty bytes, granularity %,d%n", b.name(), flags(b), b.count(),
                            b.granularity());
                }
            }
        }
        return ExitStatus.OK;
    }
}

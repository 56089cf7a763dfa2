package io.resilientkvm.cli.exporter;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.BackupResult;
import io.resilientkvm.exporter.DeviceBackup;
import io.resilientkvm.exporter.Exporter;
import io.resilientkvm.exporter.qmp.BlockDevice;
import io.resilientkvm.exporter.qmp.BlockDiscovery;
import io.resilientkvm.exporter.qmp.DirtyBitmap;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.params.InstanceParameters;
import io.resilientkvm.engine.params.ParameterFiles;
import io.resilientkvm.engine.params.ResilientParameters;
import io.resilientkvm.exporter.schedule.BackupRunner;
import io.resilientkvm.exporter.schedule.BackupSchedule;
import io.resilientkvm.exporter.schedule.CronExpressions;
import io.resilientkvm.schemas.SchemaKind;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

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
                "3:refused: another exporter holds the repository lock"})
public final class ExporterCommand implements Callable<Integer> {
    @Option(names = "--qmp", paramLabel = "SOCKET", description = "the VM's QMP unix socket (bin/kvm run gives run/qmp-backup.sock)")
    Path qmp;

    @Option(names = "--config", paramLabel = "NODE.json",
            description = {"run scheduled: the node's instance (run/qmp-backup.sock into srv/backup), on the cron of",
                    "resiliency-backup-periodicity in its parameters (default hourly), until stopped"})
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

    @Option(names = "--list", description = "list the VM's disks and their dirty bitmaps, back up nothing")
    boolean list;

    @Option(names = "--json", description = "print the result as JSON")
    boolean json;

    @Mixin
    io.resilientkvm.cli.CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        CommandRunner.main(new ExporterCommand(), args);
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        ObjectMapper mapper = new ObjectMapper();
        if (config != null) {
            return scheduled(out);
        }
        if (qmp == null) {
            throw new BadInputException("--qmp: missing; give the VM's QMP socket, or --config NODE.json to run scheduled");
        }
        if (list) {
            return list(out, mapper);
        }
        if (target == null) {
            throw new BadInputException("--target: missing; give the backup repository directory");
        }
        BackupRequest request = BackupRequest.of(qmp, target).withLevel(level).withDevices(devices).withExcluded(excluded)
                .withSpeed(speed).withCompress(compress).withJobTimeout(Duration.ofSeconds(timeoutSeconds));
        BackupResult result = Exporter.backup(request);
        if (json) {
            ArrayNode a = mapper.createArrayNode();
            for (DeviceBackup b : result.backups()) {
                a.addObject().put("device", b.device()).put("file", b.file().toString()).put("level", b.manifest().level().name())
                        .put("chain", b.manifest().chainId()).put("sequence", b.manifest().sequence()).put("bytes", b.bytes())
                        .put("seconds", b.seconds()).put("mbPerSecond", b.mbPerSec()).put("sha256", b.manifest().sha256());
            }
            out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(a));
        } else {
            for (DeviceBackup b : result.backups()) {
                out.printf("%-12s %-4s chain %s #%d  %,d bytes in %.2f s (%.1f MB/s)  %s%n", b.device(), b.manifest().level(),
                        b.manifest().chainId(), b.manifest().sequence(), b.bytes(), b.seconds(), b.mbPerSec(), b.file());
            }
        }
        out.flush();
        return 0;
    }

    private int scheduled(PrintWriter out) throws Exception {
        NodeConfig node = NodeConfig.load(config);
        InstanceParameters params = ParameterFiles.load(node.parameters(),
                node.resilient() ? SchemaKind.RESILIENT_INSTANCE : SchemaKind.KVM_INSTANCE);
        String cron = params.resilient().map(ResilientParameters::backupCron).orElse(CronExpressions.DEFAULT);
        long speedLimit = params.resilient().map(ResilientParameters::speedLimitBytesPerSecond).orElse(speed);
        boolean compressed = params.resilient().map(ResilientParameters::compress).orElse(compress);
        Path socket = qmp != null ? qmp : node.layout().backupQmpSocket();
        Path repository = target != null ? target : node.layout().backupRepository();
        Supplier<BackupRequest> requests = () -> BackupRequest.of(socket, repository).withLevel(level).withDevices(devices)
                .withExcluded(excluded).withSpeed(speedLimit).withCompress(compressed).withJobTimeout(Duration.ofSeconds(timeoutSeconds));
        CountDownLatch stopped = new CountDownLatch(1);
        try (BackupSchedule schedule = new BackupSchedule(cron, requests, BackupRunner.EXPORTER, o -> report(out, o),
                Duration.ofMinutes(5))) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                schedule.close();
                stopped.countDown();
            }, "exporter-shutdown"));
            out.println("exporter for " + node.instance() + " on " + node.node() + ": cron '" + cron + "' (next "
                    + schedule.nextFireTime().map(Object::toString).orElse("?") + "), QMP " + socket + ", repository " + repository);
            out.flush();
            if (now) {
                schedule.runNow();
            }
            stopped.await();
        }
        return 0;
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

    private int list(PrintWriter out, ObjectMapper mapper) throws Exception {
        List<BlockDevice> disks;
        try (QmpClient client = QmpClient.connect(qmp, Duration.ofSeconds(10))) {
            disks = BlockDiscovery.discover(client);
        } catch (QmpException e) {
            throw new OperationFailedException("cannot talk QMP on " + qmp + ": " + e.getMessage()
                    + " (is the VM running, and no other client connected?)", e);
        }
        if (json) {
            ArrayNode a = mapper.createArrayNode();
            for (BlockDevice d : disks) {
                ObjectNode o = a.addObject().put("device", d.name()).put("node", d.nodeName()).put("file", d.file())
                        .put("format", d.format()).put("virtualSize", d.virtualSize()).put("readOnly", d.readOnly());
                ArrayNode bm = o.putArray("bitmaps");
                for (DirtyBitmap b : d.bitmaps()) {
                    bm.addObject().put("name", b.name()).put("persistent", b.persistent()).put("inconsistent", b.inconsistent())
                            .put("busy", b.busy()).put("dirtyBytes", b.count());
                }
            }
            out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(a));
        } else {
            for (BlockDevice d : disks) {
                out.printf("%-12s node %-12s %,15d bytes %-6s %s%s%n", d.name(), d.nodeName(), d.virtualSize(), d.format(), d.file(),
                        d.readOnly() ? " (read-only)" : "");
                for (DirtyBitmap b : d.bitmaps()) {
                    out.printf("  bitmap %s%s%s, %,d dirty bytes%n", b.name(), b.persistent() ? " persistent" : "",
                            b.inconsistent() ? " INCONSISTENT" : "", b.count());
                }
            }
        }
        out.flush();
        return 0;
    }
}

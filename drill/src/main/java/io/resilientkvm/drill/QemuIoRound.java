package io.resilientkvm.drill;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A round of the qemu-io workload: known patterns written through QMP, and the new main's disk
 * compared byte for byte with the data of the last backup both clones verified.
 */
final class QemuIoRound extends DrillRound {
    private final Workload workload;

    QemuIoRound(DrillOptions options, DrillReport report, DrillCluster cluster, PrintWriter out, Consumer<String> steps) {
        super(options, report, cluster, out, steps);
        this.workload = new Workload(options.diskBytes());
    }

    @Override
    void run(int round, String main, String candidate, String other)
            throws OperatorException, IOException, InterruptedException {
        Epoch epoch = startRound(round, main, candidate, other);
        ManifestCatalog catalog = new ManifestCatalog(client, layout);
        ImporterStatusStore statuses = new ImporterStatusStore(client, layout);
        long bytesBefore = publishedBytes(catalog);
        // run/qmp.sock belongs to the agent's supervisor; the exporter's socket is free between backups.
        Path qmp = node(main).layout().backupQmpSocket();
        BackupManifest last = null;
        int backups = 0;
        for (int b = 1; b <= options.backupsPerRound(); b++) {
            Workload.Write w = workload.writeNext(qmp, DEVICE);
            BackupManifest point = await("a backup after write #" + workload.log().size() + " (pattern 0x"
                    + Integer.toHexString(w.pattern()) + " at " + w.offset() + ")", () -> newestAfter(catalog, epoch, w.ended()));
            backups++;
            BackupManifest p = point;
            await(candidate + " and " + other + " hold " + p.level() + " #" + p.sequence(),
                    () -> holds(statuses, candidate, p) && holds(statuses, other, p) ? Optional.of(true) : Optional.empty());
            step("backup " + p.level() + " #" + p.sequence() + " of chain " + p.chainId() + " (" + p.fileSize()
                    + " bytes) is on both clones");
            last = p;
        }
        // The newest point both clones verified; the next write is lost by design (RPO).
        BackupManifest lastPoint = catalog.newestPerDevice().stream().filter(m -> m.device().equals(DEVICE)).findFirst()
                .orElse(last);
        if (!holds(statuses, candidate, lastPoint)) {
            lastPoint = last;
        }
        List<Workload.Write> inLastPoint = workload.before(lastPoint.startedAt());
        Workload.Write lost = workload.writeNext(qmp, DEVICE);
        step("wrote 0x" + Integer.toHexString(lost.pattern()) + " after the last backup: it will be lost (RPO)");
        Instant kill = Instant.now();
        disaster(round, main, candidate);

        long takeoverStart = System.nanoTime();
        takeover(round, candidate);
        // The agent announces MAIN once QEMU answered QMP: the end of the RTO.
        Epoch newEpoch = await(candidate + " runs the VM as main", () -> mainOf(candidate));
        double rto = (System.nanoTime() - takeoverStart) / 1e9;
        step(String.format(Locale.ROOT, "%s is the main of epoch %d; VM answering QMP %.2f s after bin/takeover started",
                candidate, newEpoch.number(), rto));

        afterCut(round, main);
        report.check("round " + round + ": epoch moved by one", newEpoch.number() == epoch.number() + 1,
                epoch.number() + " -> " + newEpoch.number());
        boolean fenced = isFenced(main);
        report.check("round " + round + ": old main " + main + " is fenced", fenced, layout.fencedPath(main));

        workload.discardAfter(lastPoint.startedAt()); // the write after the last backup died with the old main
        Path expected = DiskCheck.expected(scratch.resolve("expected-round-" + round + ".qcow2"), options.diskBytes(),
                inLastPoint);
        boolean same = withVmPaused(node(candidate).layout().backupQmpSocket(),
                () -> DiskCheck.same(node(candidate).layout().mainDisk(), expected));
        report.check("round " + round + ": new VM's disk equals the data of " + lastPoint.file() + " byte for byte", same,
                inLastPoint.size() + " writes in it, 1 lost after it");

        followAndStream(round, candidate, other, newEpoch, catalog, statuses);

        double rpoSeconds = Duration.between(lastPoint.startedAt(), kill).toMillis() / 1000.0;
        report.add(new DrillReport.Round(round, main, candidate, newEpoch.number(), backups,
                publishedBytes(catalog) - bytesBefore, copiedBytes(epoch.number(), List.of(candidate, other)), lastPoint.chainId() + "/" + lastPoint.file(),
                rpoSeconds, lost.length(), rto));
    }
}

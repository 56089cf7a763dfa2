package io.resilientkvm.drill;

import io.resilientkvm.drill.guest.GuestDisk;
import io.resilientkvm.drill.guest.GuestHttp;
import io.resilientkvm.drill.guest.GuestImage;
import io.resilientkvm.drill.guest.GuestJournal;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A round of the guest workload (the tiny guest and its journals on two disks).
 */
final class GuestRound extends DrillRound {
    /** The guest workload's second disk (external-disk "ext"), backed up at the same point as the main one. */
    private static final String EXT_DEVICE = "disk-ext";

    private final GuestImage guest;
    private final int guestPort;
    private final String dataToVm;

    GuestRound(DrillOptions options, DrillReport report, DrillCluster cluster, PrintWriter out, Consumer<String> steps) {
        super(options, report, cluster, out, steps);
        this.guest = cluster.guest();
        this.guestPort = cluster.guestPort();
        this.dataToVm = cluster.dataToVm();
    }

    /**
     * A round with the tiny guest: its journals on two disks are the workload. After the
     * takeover the restored point is read from the new main's repository (both disks), checked
     * with e2fsck and against the journals the old main's disks hold, and the guest must boot
     * from it and answer HTTP on its forward.
     */
    @Override
    void run(int round, String main, String candidate, String other)
            throws OperatorException, IOException, InterruptedException {
        Epoch epoch = startRound(round, main, candidate, other);
        int hostPort = 10000 + guestPort;
        String at = cluster.guestAddress(main);
        GuestJournal.Record booted = await("the guest answers HTTP on " + at + ":" + hostPort + " (console: "
                + node(main).layout().log().resolve("console.log") + ")",
                () -> GuestHttp.lastRecord(at, hostPort, Duration.ofSeconds(5)));
        step("guest answers: " + booted.type() + " #" + booted.seq() + " " + booted.payload());
        ManifestCatalog catalog = new ManifestCatalog(client, layout);
        ImporterStatusStore statuses = new ImporterStatusStore(client, layout);
        long bytesBefore = publishedBytes(catalog);
        Optional<double[]> bulkStart = options.guestLoad()
                ? Optional.of(await("the guest's bulk writer runs", () -> bulk(at, hostPort))) : Optional.empty();
        int backups = 0;
        for (int b = 1; b <= options.backupsPerRound(); b++) {
            GuestJournal.Record seen = await("the guest's journal", () -> GuestHttp.lastRecord(at, hostPort, Duration.ofSeconds(5)));
            Instant after = Instant.now();
            BackupManifest point = await("a backup after journal record #" + seen.seq(), () -> newestAfter(catalog, epoch, after));
            backups++;
            BackupManifest p = point;
            await(candidate + " and " + other + " hold " + p.level() + " #" + p.sequence() + " of both disks", () ->
                    holds(statuses, candidate, p) && holds(statuses, other, p) && extHeld(catalog, statuses, epoch, p, candidate, other)
                            ? Optional.of(true) : Optional.empty());
            step("backup " + p.level() + " #" + p.sequence() + " of chain " + p.chainId() + " (" + p.fileSize()
                    + " bytes, and " + EXT_DEVICE + ") is on both clones");
        }
        double mibps = -1;
        Optional<double[]> bulkEnd = bulk(at, hostPort);
        if (bulkStart.isPresent() && bulkEnd.isPresent() && bulkEnd.get()[1] > bulkStart.get()[1]) {
            mibps = (bulkEnd.get()[0] - bulkStart.get()[0]) / (bulkEnd.get()[1] - bulkStart.get()[1]);
            step(String.format(Locale.ROOT, "guest bulk writes while backups ran: %.1f MiB/s", mibps));
        }
        Instant kill = Instant.now();
        disaster(round, main, candidate);
        // What the candidate holds now is what the takeover restores: nothing is published any more.
        ImporterStatus.Point mainPoint = statuses.read(candidate).flatMap(st -> st.point(DEVICE)).orElseThrow(() ->
                new OperationFailedException(candidate + " holds no backup of " + DEVICE));
        ImporterStatus.Point extPoint = statuses.read(candidate).flatMap(st -> st.point(EXT_DEVICE)).orElseThrow(() ->
                new OperationFailedException(candidate + " holds no backup of " + EXT_DEVICE));

        long takeoverStart = System.nanoTime();
        takeover(round, candidate);
        Epoch newEpoch = await(candidate + " runs the VM as main", () -> mainOf(candidate));
        double rtoVm = (System.nanoTime() - takeoverStart) / 1e9;
        // The old QEMU is dead, so whatever answers on the forward now is the new VM's guest.
        String newAt = cluster.guestAddress(candidate);
        GuestJournal.Record answered = await("the restored guest answers HTTP on " + newAt + ":" + hostPort + " (console: "
                + node(candidate).layout().log().resolve("console.log") + ")",
                () -> GuestHttp.lastRecord(newAt, hostPort, Duration.ofSeconds(5)));
        double rto = (System.nanoTime() - takeoverStart) / 1e9;
        step(String.format(Locale.ROOT, "%s is the main of epoch %d; VM answering QMP %.2f s and the guest's HTTP %.2f s after"
                + " bin/takeover started", candidate, newEpoch.number(), rtoVm, rto));
        report.check("round " + round + ": the restored guest boots and answers HTTP on the NAT forward " + newAt + ":" + hostPort,
                answered.valid(), answered.type() + " #" + answered.seq());
        afterCut(round, main);
        report.check("round " + round + ": epoch moved by one", newEpoch.number() == epoch.number() + 1,
                epoch.number() + " -> " + newEpoch.number());
        report.check("round " + round + ": old main " + main + " is fenced", isFenced(main), layout.fencedPath(main));

        // The restored point, read from the new main's repository without booting it.
        Path work = scratch.resolve("check-round-" + round);
        BackupRepository repo = new BackupRepository(node(candidate).layout().backupRepository());
        GuestDisk.Report rMain = GuestDisk.inspect(pointFile(repo, mainPoint), work, "restored-main");
        GuestDisk.Report rExt = GuestDisk.inspect(pointFile(repo, extPoint), work, "restored-ext");
        GuestJournal.Verdict jMain = rMain.journal();
        GuestJournal.Verdict jExt = rExt.journal();
        String how = guest.guestAgent() ? "quiesced with fsfreeze" : "crash-consistent";
        report.check("round " + round + ": restored filesystems are clean (e2fsck -fn, main and external disk)",
                rMain.clean() && rExt.clean(), "exit " + rMain.fsckExit() + " and " + rExt.fsckExit() + "; backups " + how
                        + (rMain.clean() ? "" : ": " + rMain.fsckOutput()) + (rExt.clean() ? "" : ": " + rExt.fsckOutput()));
        if (guest.guestAgent()) {
            report.check("round " + round + ": quiesced backups need no ext4 journal replay",
                    !rMain.neededRecovery() && !rExt.neededRecovery(),
                    "needs_recovery main " + rMain.neededRecovery() + ", external " + rExt.neededRecovery());
        }
        report.check("round " + round + ": every journal record of the restored point is present with a valid checksum, on"
                + " both disks", jMain.intact() && jExt.intact() && jMain.lastSeq() > 0,
                "main 1.." + jMain.lastSeq() + jMain.problem().map(x -> " " + x).orElse("") + ", external 1.." + jExt.lastSeq()
                        + jExt.problem().map(x -> " " + x).orElse(""));
        long skew = jMain.lastSeq() - jExt.lastSeq();
        report.check("round " + round + ": both disks at one point (no disk ahead of the other)", skew == 0 || skew == 1,
                "main ends at #" + jMain.lastSeq() + ", external at #" + jExt.lastSeq()
                        + " (the writer appends to main, then external)");

        // What the old main had written when it died: its own disks, read after the fact.
        GuestDisk.Report oMain = GuestDisk.inspect(node(main).layout().mainDisk(), work, "old-main");
        GuestDisk.Report oExt = GuestDisk.inspect(DrillCluster.externalDisk(node(main).layout().root()), work, "old-ext");
        boolean prefix = startsWith(oMain.journalBytes(), rMain.journalBytes()) && startsWith(oExt.journalBytes(), rExt.journalBytes());
        report.check("round " + round + ": the restored journals are exactly what the old main wrote up to the backup's point",
                prefix && oMain.journal().intact() && oExt.journal().intact(), "old main wrote up to #" + oMain.journal().lastSeq()
                        + " on main, #" + oExt.journal().lastSeq() + " on external");
        long rpoRecords = oMain.journal().lastSeq() - jMain.lastSeq();
        double rpoSeconds = oMain.journal().last().map(GuestJournal.Record::time).orElse(0.0)
                - jMain.last().map(GuestJournal.Record::time).orElse(0.0);
        step(String.format(Locale.ROOT, "RPO: %d journal records (%.2f s of the guest's writes) lost; the main died %.1f s after"
                + " the restored backup started", rpoRecords, rpoSeconds,
                Duration.between(mainPoint.takenAt(), kill).toMillis() / 1000.0));

        GuestJournal.Verdict now = GuestJournal.verify(GuestHttp.get(newAt, hostPort, "/journal/main", Duration.ofSeconds(10))
                .orElseThrow(() -> new OperationFailedException("the restored guest does not serve /journal/main")));
        Optional<GuestJournal.Record> boot = now.records().stream().filter(r -> r.type() == 'B' && r.seq() > jMain.lastSeq())
                .findFirst();
        report.check("round " + round + ": the restored guest's own boot-time e2fsck -fn found nothing to repair",
                boot.isPresent() && boot.get().payload().equals("fsck=0,0"), boot.map(GuestJournal.Record::payload)
                        .orElse("no boot record after #" + jMain.lastSeq()));
        byte[] data = GuestHttp.get(newAt, hostPort, "/data", Duration.ofSeconds(10)).orElse(new byte[0]);
        report.check("round " + round + ": the restored guest read data-to-vm from 10.0.2.100",
                dataToVm.equals(new String(data, StandardCharsets.UTF_8)), new String(data, StandardCharsets.UTF_8));

        followAndStream(round, candidate, other, newEpoch, catalog, statuses);

        report.add(new DrillReport.Round(round, main, candidate, newEpoch.number(), backups,
                publishedBytes(catalog) - bytesBefore, copiedBytes(epoch.number(), List.of(candidate, other)),
                mainPoint.chainId() + "/" + mainPoint.file(), rpoSeconds, rpoRecords * GuestJournal.RECORD_SIZE, rto, rpoRecords,
                rtoVm, mibps));
    }

    /** The external disk's newest backup of this epoch, taken with {@code p}, is on both clones. */
    private static boolean extHeld(ManifestCatalog catalog, ImporterStatusStore statuses, Epoch epoch, BackupManifest p,
            String a, String b) throws OperatorException {
        Optional<BackupManifest> ext = catalog.newestPerDevice().stream().filter(m -> m.device().equals(EXT_DEVICE)
                && m.epoch() == epoch.number() && !m.startedAt().isBefore(p.startedAt().minusSeconds(1))).findFirst();
        return ext.isPresent() && holds(statuses, a, ext.get()) && holds(statuses, b, ext.get());
    }

    private static Path pointFile(BackupRepository repo, ImporterStatus.Point point) throws IOException, OperatorException {
        for (var chain : repo.chains(point.device())) {
            if (chain.chainId().equals(point.chainId())) {
                return chain.dir().resolve(point.file());
            }
        }
        throw new OperationFailedException("the restored point " + point.device() + " " + point.chainId() + "/" + point.file()
                + " is not in " + repo.root());
    }

    private static boolean startsWith(byte[] whole, byte[] prefix) {
        return whole.length >= prefix.length && java.util.Arrays.equals(whole, 0, prefix.length, prefix, 0, prefix.length);
    }

    /** The guest's bulk writer: MiB written so far and the guest's time, when it runs. */
    private Optional<double[]> bulk(String address, int hostPort) {
        if (!options.guestLoad()) {
            return Optional.empty();
        }
        return GuestHttp.get(address, hostPort, "/bulk", Duration.ofSeconds(10)).map(b -> new String(b, StandardCharsets.US_ASCII).trim()
                .split("\\s+")).filter(f -> f.length == 2).map(f -> new double[] {Double.parseDouble(f[0]), Double.parseDouble(f[1])});
    }
}

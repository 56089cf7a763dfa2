// Over 350 lines: the drill's scenario (set-up, each round's steps and checks, tear-down) reads top to bottom in one class.
package io.resilientkvm.drill;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.drill.guest.GuestAccelerator;
import io.resilientkvm.drill.guest.GuestDisk;
import io.resilientkvm.drill.guest.GuestHttp;
import io.resilientkvm.drill.guest.GuestImage;
import io.resilientkvm.drill.guest.GuestJournal;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.node.zk.EmbeddedZooKeeper;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.importer.restore.Holds;
import io.resilientkvm.takeover.protocol.FencedNodes;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;

/**
 * The disaster-recovery drill: on one machine, a ZooKeeper, a main and two clones as separate
 * processes with a real VM; a workload whose every write is logged; backups; the main killed
 * with SIGKILL; a takeover; then byte-for-byte proof that the new main runs on exactly the
 * data of the last verified backup, that the old main is fenced and that the other clone
 * follows the new main. Each round repeats it with the next node.
 */
final class Drill implements AutoCloseable {
    private static final String INSTANCE = "drill";
    private static final String DEVICE = "virtio0";
    /** The guest workload's second disk (external-disk "ext"), backed up at the same point as the main one. */
    private static final String EXT_DEVICE = "disk-ext";
    private static final long EXT_DISK_BYTES = 64L << 20;
    private static final List<String> NODES = List.of("node-a", "node-b", "node-c");
    private static final Duration SESSION = Duration.ofSeconds(4);
    private static final Duration STEP_TIMEOUT = Duration.ofMinutes(3);
    /** The tiny guest under TCG boots in 15-30 s and writes slowly: its steps get twice the time. */
    private Duration stepTimeout = STEP_TIMEOUT;

    private final DrillOptions options;
    private final PrintWriter out;
    private final DrillReport report = new DrillReport();
    private final long t0 = System.nanoTime();
    private final Map<String, NodeProcess> nodes = new LinkedHashMap<>();
    private Path scratch;
    private EmbeddedZooKeeper zk;
    private CuratorFramework client;
    private ZkLayout layout;
    private Workload workload;
    private GuestImage guest;
    private String accelerator;
    private int guestPort;
    private int httpdPort;
    private String dataToVm;
    private boolean failed;
    private boolean closed;

    Drill(DrillOptions options, PrintWriter out) {
        this.options = options;
        this.out = out;
    }

    DrillReport run() throws BadInputException {
        try {
            setUp();
            String main = NODES.get(0);
            for (int round = 1; round <= options.rounds(); round++) {
                int i = NODES.indexOf(main);
                String candidate = NODES.get((i + 1) % NODES.size());
                String other = NODES.get((i + 2) % NODES.size());
                if (options.guest()) {
                    runGuestRound(round, main, candidate, other);
                } else {
                    runRound(round, main, candidate, other);
                }
                if (round < options.rounds()) {
                    rejoin(main);
                }
                main = candidate;
            }
        } catch (BadInputException e) {
            failed = true;
            throw e;
        } catch (OperatorException | IOException | RuntimeException e) {
            failed = true;
            report.failed(e.getMessage());
            step("FAILED: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failed = true;
            report.failed("interrupted");
        }
        if (!report.passed()) {
            failed = true;
        }
        if (failed || options.keep()) {
            report.scratch(String.valueOf(scratch));
        }
        return report;
    }

    private void setUp() throws OperatorException, IOException {
        if (options.scratch().isPresent()) {
            Path dir = options.scratch().get();
            if (Files.exists(dir)) {
                try (Stream<Path> s = Files.list(dir)) {
                    if (s.findAny().isPresent()) {
                        throw new BadInputException("--dir " + dir + ": not empty; the drill removes its scratch folder"
                                + " afterwards, so give a new or empty folder");
                    }
                }
            }
            scratch = Files.createDirectories(dir);
        } else {
            scratch = Files.createTempDirectory("rkvm-drill-");
        }
        step("scratch folder " + scratch);
        String connect;
        if (options.zookeeper().isPresent()) {
            connect = options.zookeeper().get();
            step("using ZooKeeper at " + connect);
        } else {
            zk = EmbeddedZooKeeper.start(scratch.resolve("zookeeper"), 0);
            connect = zk.connectString();
            step("embedded ZooKeeper at " + connect);
        }
        String base = "/resilient-kvm-drill/" + HexFormat.of().formatHex(random(4));
        layout = new ZkLayout(base, INSTANCE);
        client = ZkClients.connect(ZkSettings.of(connect));
        Path token = scratch.resolve("backup.token");
        Files.writeString(token, HexFormat.of().formatHex(random(32)) + "\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
        accelerator = options.accelerator();
        if (options.guest()) {
            guest = GuestImage.obtain(this::step);
            accelerator = GuestAccelerator.resolve(options.accelerator(), guest, scratch.resolve("probe"), this::step);
            if ("tcg".equals(accelerator)) {
                stepTimeout = STEP_TIMEOUT.multipliedBy(2);
            }
            guestPort = freeGuestPort();
            httpdPort = freePort();
            dataToVm = "drill data " + HexFormat.of().formatHex(random(8));
            step("guest workload: " + guest.kernelPackage() + ", accelerator " + accelerator + ", HTTP on 127.0.0.1:"
                    + (10000 + guestPort) + ", guest agent " + (guest.guestAgent() ? "on (backups quiesced)" : "off: "
                    + guest.guestAgentNote()));
        }
        Path params = options.guest() ? null : writeParameters();
        workload = new Workload(options.diskBytes());
        for (String node : NODES) {
            Path dataDir = scratch.resolve(node);
            Files.createDirectories(dataDir);
            Path nodeParams = options.guest() ? writeGuestParameters(node, dataDir) : params;
            Path config = writeNodeConfig(node, dataDir, nodeParams, token, connect, base);
            if (node.equals(NODES.get(0))) {
                // The main's disk: blank, of the drill's size (the parameters only know whole GiB).
                InstanceLayout l = new InstanceLayout(dataDir);
                Files.createDirectories(l.mainDisk().getParent());
                DiskCheck.expected(l.mainDisk(), options.diskBytes(), List.of());
                if (options.guest()) {
                    Path ext = externalDisk(dataDir);
                    Files.createDirectories(ext.getParent());
                    new QemuImg().create(ext, "qcow2", EXT_DISK_BYTES);
                }
            }
            nodes.put(node, NodeProcess.start(node, config, new InstanceLayout(dataDir), scratch.resolve("logs")));
        }
        step("started " + String.join(", ", NODES) + " (logs in " + scratch.resolve("logs") + ")");
    }

    private void runRound(int round, String main, String candidate, String other)
            throws OperatorException, IOException, InterruptedException {
        Epoch epoch = startRound(round, main, candidate, other);
        ManifestCatalog catalog = new ManifestCatalog(client, layout);
        ImporterStatusStore statuses = new ImporterStatusStore(client, layout);
        long bytesBefore = publishedBytes(catalog);
        // run/qmp.sock belongs to the agent's supervisor; the exporter's socket is free between backups.
        Path qmp = nodes.get(main).layout().backupQmpSocket();
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
        nodes.get(main).killHard();
        step("DISASTER: SIGKILL of " + main + "'s agent and VM");
        await("ZooKeeper notices " + main + " is gone", () ->
                Membership.list(client, layout).containsKey(main) ? Optional.empty() : Optional.of(true));

        long takeoverStart = System.nanoTime();
        takeover(round, candidate);
        // The agent announces MAIN once QEMU answered QMP: the end of the RTO.
        Epoch newEpoch = await(candidate + " runs the VM as main", () -> mainOf(candidate));
        double rto = (System.nanoTime() - takeoverStart) / 1e9;
        step(String.format(Locale.ROOT, "%s is the main of epoch %d; VM answering QMP %.2f s after bin/takeover started",
                candidate, newEpoch.number(), rto));

        report.check("round " + round + ": epoch moved by one", newEpoch.number() == epoch.number() + 1,
                epoch.number() + " -> " + newEpoch.number());
        boolean fenced = isFenced(main);
        report.check("round " + round + ": old main " + main + " is fenced", fenced, layout.fencedPath(main));

        workload.discardAfter(lastPoint.startedAt()); // the write after the last backup died with the old main
        Path expected = DiskCheck.expected(scratch.resolve("expected-round-" + round + ".qcow2"), options.diskBytes(),
                inLastPoint);
        boolean same = withVmPaused(nodes.get(candidate).layout().backupQmpSocket(),
                () -> DiskCheck.same(nodes.get(candidate).layout().mainDisk(), expected));
        report.check("round " + round + ": new VM's disk equals the data of " + lastPoint.file() + " byte for byte", same,
                inLastPoint.size() + " writes in it, 1 lost after it");

        followAndStream(round, candidate, other, newEpoch, catalog, statuses);

        double rpoSeconds = Duration.between(lastPoint.startedAt(), kill).toMillis() / 1000.0;
        report.add(new DrillReport.Round(round, main, candidate, newEpoch.number(), backups,
                publishedBytes(catalog) - bytesBefore, copiedBytes(epoch.number(), List.of(candidate, other)), lastPoint.chainId() + "/" + lastPoint.file(),
                rpoSeconds, lost.length(), rto));
    }

    /**
     * A round with the tiny guest: its journals on two disks are the workload. After the
     * takeover the restored point is read from the new main's repository (both disks), checked
     * with e2fsck and against the journals the old main's disks hold, and the guest must boot
     * from it and answer HTTP on its forward.
     */
    private void runGuestRound(int round, String main, String candidate, String other)
            throws OperatorException, IOException, InterruptedException {
        Epoch epoch = startRound(round, main, candidate, other);
        int hostPort = 10000 + guestPort;
        GuestJournal.Record booted = await("the guest answers HTTP on 127.0.0.1:" + hostPort + " (console: "
                + nodes.get(main).layout().log().resolve("console.log") + ")",
                () -> GuestHttp.lastRecord(hostPort, Duration.ofSeconds(5)));
        step("guest answers: " + booted.type() + " #" + booted.seq() + " " + booted.payload());
        ManifestCatalog catalog = new ManifestCatalog(client, layout);
        ImporterStatusStore statuses = new ImporterStatusStore(client, layout);
        long bytesBefore = publishedBytes(catalog);
        Optional<double[]> bulkStart = options.guestLoad()
                ? Optional.of(await("the guest's bulk writer runs", () -> bulk(hostPort))) : Optional.empty();
        int backups = 0;
        for (int b = 1; b <= options.backupsPerRound(); b++) {
            GuestJournal.Record seen = await("the guest's journal", () -> GuestHttp.lastRecord(hostPort, Duration.ofSeconds(5)));
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
        Optional<double[]> bulkEnd = bulk(hostPort);
        if (bulkStart.isPresent() && bulkEnd.isPresent() && bulkEnd.get()[1] > bulkStart.get()[1]) {
            mibps = (bulkEnd.get()[0] - bulkStart.get()[0]) / (bulkEnd.get()[1] - bulkStart.get()[1]);
            step(String.format(Locale.ROOT, "guest bulk writes while backups ran: %.1f MiB/s", mibps));
        }
        Instant kill = Instant.now();
        nodes.get(main).killHard();
        step("DISASTER: SIGKILL of " + main + "'s agent and VM");
        await("ZooKeeper notices " + main + " is gone", () ->
                Membership.list(client, layout).containsKey(main) ? Optional.empty() : Optional.of(true));
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
        GuestJournal.Record answered = await("the restored guest answers HTTP on 127.0.0.1:" + hostPort + " (console: "
                + nodes.get(candidate).layout().log().resolve("console.log") + ")",
                () -> GuestHttp.lastRecord(hostPort, Duration.ofSeconds(5)));
        double rto = (System.nanoTime() - takeoverStart) / 1e9;
        step(String.format(Locale.ROOT, "%s is the main of epoch %d; VM answering QMP %.2f s and the guest's HTTP %.2f s after"
                + " bin/takeover started", candidate, newEpoch.number(), rtoVm, rto));
        report.check("round " + round + ": the restored guest boots and answers HTTP on the NAT forward 127.0.0.1:" + hostPort,
                answered.valid(), answered.type() + " #" + answered.seq());
        report.check("round " + round + ": epoch moved by one", newEpoch.number() == epoch.number() + 1,
                epoch.number() + " -> " + newEpoch.number());
        report.check("round " + round + ": old main " + main + " is fenced", isFenced(main), layout.fencedPath(main));

        // The restored point, read from the new main's repository without booting it.
        Path work = scratch.resolve("check-round-" + round);
        BackupRepository repo = new BackupRepository(nodes.get(candidate).layout().backupRepository());
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
        GuestDisk.Report oMain = GuestDisk.inspect(nodes.get(main).layout().mainDisk(), work, "old-main");
        GuestDisk.Report oExt = GuestDisk.inspect(externalDisk(nodes.get(main).layout().root()), work, "old-ext");
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

        GuestJournal.Verdict now = GuestJournal.verify(GuestHttp.get(hostPort, "/journal/main", Duration.ofSeconds(10))
                .orElseThrow(() -> new OperationFailedException("the restored guest does not serve /journal/main")));
        Optional<GuestJournal.Record> boot = now.records().stream().filter(r -> r.type() == 'B' && r.seq() > jMain.lastSeq())
                .findFirst();
        report.check("round " + round + ": the restored guest's own boot-time e2fsck -fn found nothing to repair",
                boot.isPresent() && boot.get().payload().equals("fsck=0,0"), boot.map(GuestJournal.Record::payload)
                        .orElse("no boot record after #" + jMain.lastSeq()));
        byte[] data = GuestHttp.get(hostPort, "/data", Duration.ofSeconds(10)).orElse(new byte[0]);
        report.check("round " + round + ": the restored guest read data-to-vm from 10.0.2.100",
                dataToVm.equals(new String(data, StandardCharsets.UTF_8)), new String(data, StandardCharsets.UTF_8));

        followAndStream(round, candidate, other, newEpoch, catalog, statuses);

        report.add(new DrillReport.Round(round, main, candidate, newEpoch.number(), backups,
                publishedBytes(catalog) - bytesBefore, copiedBytes(epoch.number(), List.of(candidate, other)),
                mainPoint.chainId() + "/" + mainPoint.file(), rpoSeconds, rpoRecords * GuestJournal.RECORD_SIZE, rto, rpoRecords,
                rtoVm, mibps));
    }

    /**
     * The end of every round: the new main's first backup (a full of a new chain) reaches the
     * other clone, and the new main streams the restored chain into its main disk (the node
     * streams the main disk only: an external disk stays an overlay on its held chain).
     */
    private void followAndStream(int round, String candidate, String other, Epoch newEpoch, ManifestCatalog catalog,
            ImporterStatusStore statuses) throws OperatorException, InterruptedException {
        BackupManifest firstOfNewMain = await("the new main's first backup (a full of a new chain)", () ->
                catalog.list().stream().filter(m -> m.device().equals(DEVICE) && m.epoch() == newEpoch.number()
                        && m.level() == BackupManifest.Level.FULL).findFirst());
        await(other + " follows the new main and holds its full", () ->
                holds(statuses, other, firstOfNewMain) ? Optional.of(true) : Optional.empty());
        report.check("round " + round + ": " + other + " follows the new main " + candidate, true,
                "holds " + firstOfNewMain.file() + " of epoch " + newEpoch.number());
        Path candidateRepo = nodes.get(candidate).layout().backupRepository();
        Path candidateDisk = nodes.get(candidate).layout().mainDisk();
        await(candidate + " streams the restored chain into the VM's main disk and releases its hold", () -> {
            try {
                return new Holds(candidateRepo).list().stream().noneMatch(h -> h.device().equals(DEVICE))
                        ? Optional.of(true) : Optional.empty();
            } catch (OperatorException e) {
                return Optional.empty();
            }
        });
        String backing = new QemuImg().info(candidateDisk).backingFile();
        report.check("round " + round + ": the new VM's disk has no backing file after the stream", backing == null,
                backing == null ? candidateDisk.toString() : "still backed by " + backing);
        report.check("round " + round + ": the new VM's disk no longer depends on the restored chain", true,
                "block-stream done, hold released in " + candidateRepo);
    }

    /** The start of every round: the main runs its VM and both clones import. */
    private Epoch startRound(int round, String main, String candidate, String other) throws OperatorException, InterruptedException {
        step("round " + round + ": main " + main + ", takeover by " + candidate + ", " + other + " follows");
        Epoch epoch = await("the main " + main + " runs its VM and announces itself", () -> mainOf(main));
        await("clones " + candidate + " and " + other + " are importing", () ->
                role(candidate) == Role.CLONE && role(other) == Role.CLONE ? Optional.of(true) : Optional.empty());
        return epoch;
    }

    /** {@code bin/takeover --yes} on the candidate, which must exit 0. */
    private void takeover(int round, String candidate) throws OperatorException, IOException, InterruptedException {
        int exit = runTakeover(candidate);
        report.check("round " + round + ": bin/takeover on " + candidate + " exits 0", exit == 0, "exit " + exit);
        if (exit != 0) {
            throw new OperationFailedException("bin/takeover on " + candidate + " exited " + exit + "; see "
                    + scratch.resolve("logs").resolve("takeover-" + candidate + ".log"));
        }
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
    private Optional<double[]> bulk(int hostPort) {
        if (!options.guestLoad()) {
            return Optional.empty();
        }
        return GuestHttp.get(hostPort, "/bulk", Duration.ofSeconds(10)).map(b -> new String(b, StandardCharsets.US_ASCII).trim()
                .split("\\s+")).filter(f -> f.length == 2).map(f -> new double[] {Double.parseDouble(f[0]), Double.parseDouble(f[1])});
    }

    /** The old main comes back: an operator clears its fence and it rejoins as a clone. */
    private void rejoin(String oldMain) throws OperatorException, IOException, InterruptedException {
        int exit = runCli(List.of("io.resilientkvm.cli.takeover.TakeoverCommand", "clear-fence", "--config",
                nodes.get(oldMain).config().toString(), "--yes"), "clear-fence-" + oldMain);
        report.check(oldMain + ": fence cleared by the operator", exit == 0, "exit " + exit);
        nodes.get(oldMain).launch();
        await(oldMain + " rejoins as a clone", () -> role(oldMain) == Role.CLONE ? Optional.of(true) : Optional.empty());
        step(oldMain + " rejoined as a clone");
    }

    private int runTakeover(String candidate) throws IOException, InterruptedException, OperatorException {
        return runCli(List.of("io.resilientkvm.cli.takeover.TakeoverCommand", "--config",
                nodes.get(candidate).config().toString(), "--yes"), "takeover-" + candidate);
    }

    private int runCli(List<String> args, String logName) throws IOException, InterruptedException, OperatorException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path")));
        cmd.addAll(args);
        Path log = scratch.resolve("logs").resolve(logName + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        if (!p.waitFor(STEP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new OperationFailedException(args.get(0) + " did not finish within " + STEP_TIMEOUT.toSeconds() + " s; see " + log);
        }
        try (Stream<String> lines = Files.lines(log)) {
            lines.forEach(l -> out.println("        | " + l));
        }
        out.flush();
        return p.exitValue();
    }

    private Optional<Epoch> mainOf(String node) throws OperatorException {
        Optional<Epoch> epoch = new EpochStore(client, layout).current();
        MemberInfo m = Membership.list(client, layout).get(node);
        if (epoch.isPresent() && m != null && m.role() == Role.MAIN && m.epoch() == epoch.get().number()
                && epoch.get().owner().equals(node)) {
            return epoch;
        }
        return Optional.empty();
    }

    private boolean isFenced(String node) throws OperationFailedException {
        return new FencedNodes(client, layout).isFenced(node);
    }

    private Role role(String node) throws OperatorException {
        MemberInfo m = Membership.list(client, layout).get(node);
        return m == null ? null : m.role();
    }

    private static Optional<BackupManifest> newestAfter(ManifestCatalog catalog, Epoch epoch, Instant after)
            throws OperatorException {
        return catalog.newestPerDevice().stream().filter(m -> m.device().equals(DEVICE) && m.epoch() == epoch.number()
                && m.startedAt().isAfter(after)).findFirst();
    }

    private static boolean holds(ImporterStatusStore statuses, String clone, BackupManifest m) throws OperatorException {
        Optional<ImporterStatus.Point> p = statuses.read(clone).flatMap(s -> s.point(m.device()));
        return p.isPresent() && p.get().atLeast(m.chainId(), m.sequence());
    }

    private static long publishedBytes(ManifestCatalog catalog) throws OperatorException {
        return catalog.list().stream().mapToLong(BackupManifest::fileSize).sum();
    }

    /** Bytes of the backups the main of {@code epoch} made that {@code clones} hold: what was copied to them. */
    private long copiedBytes(long epoch, List<String> clones) throws IOException {
        long sum = 0;
        for (String clone : clones) {
            BackupRepository repo = new BackupRepository(nodes.get(clone).layout().backupRepository());
            try {
                for (String device : repo.devices()) {
                    for (var chain : repo.chains(device)) {
                        sum += chain.backups().stream().filter(m -> m.epoch() == epoch).mapToLong(BackupManifest::fileSize).sum();
                    }
                }
            } catch (OperatorException e) {
                throw new IOException(e.getMessage(), e);
            }
        }
        return sum;
    }

    private interface Check<T> {
        Optional<T> poll() throws OperatorException, IOException;
    }

    private interface PausedCheck {
        boolean run() throws OperatorException;
    }

    private <T> T await(String what, Check<T> check) throws OperatorException, InterruptedException {
        step("waiting: " + what);
        long deadline = System.nanoTime() + stepTimeout.toNanos();
        String lastError = "";
        while (System.nanoTime() < deadline) {
            try {
                Optional<T> v = check.poll();
                if (v.isPresent()) {
                    return v.get();
                }
            } catch (OperatorException | IOException e) {
                lastError = e.getMessage();
            }
            Thread.sleep(100); // polling ZooKeeper and sockets; the deadline bounds it
        }
        throw new OperationFailedException("timed out after " + stepTimeout.toSeconds() + " s waiting until " + what
                + (lastError.isEmpty() ? "" : " (last error: " + lastError + ")") + "; see the node logs in " + scratch.resolve("logs"));
    }

    private boolean withVmPaused(Path socket, PausedCheck check) throws OperatorException {
        try (QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(60))) {
            qmp.execute("stop");
            try {
                return check.run();
            } finally {
                qmp.execute("cont");
            }
        } catch (QmpException e) {
            throw new OperationFailedException("cannot pause the new VM through " + socket + ": " + e.getMessage(), e);
        }
    }

    /** What every drill instance has: three nodes, a small VM, no tap, backups every --interval. */
    private ObjectNode baseParameters() {
        ObjectNode p = new ObjectMapper().createObjectNode();
        p.put("-sla-0-computer_guid", NODES.get(0));
        p.put("-sla-1-computer_guid", NODES.get(1));
        p.put("-sla-2-computer_guid", NODES.get(2));
        p.put("ram-size", 256);
        p.put("cpu-count", 1);
        p.put("disk-size", 1);
        p.put("use-tap", false);
        p.put("resiliency-backup-periodicity", "@every " + options.intervalSeconds() + "s");
        return p;
    }

    private Path writeParameters(ObjectNode p, String name) throws IOException {
        Path file = scratch.resolve(name);
        Files.writeString(file, p.toPrettyString() + "\n", StandardCharsets.UTF_8);
        return file;
    }

    private Path writeParameters() throws IOException {
        return writeParameters(baseParameters().put("use-nat", false), "parameters.json");
    }

    private Path writeNodeConfig(String node, Path dataDir, Path params, Path token, String connect, String base)
            throws IOException {
        ObjectMapper m = new ObjectMapper();
        ObjectNode c = m.createObjectNode();
        c.put("node", node);
        c.put("instance", INSTANCE);
        c.put("data-dir", dataDir.toString());
        c.put("parameters", params.toString());
        c.put("software-type", "kvm-resilient");
        c.putObject("vnc").put("listen", "none");
        ObjectNode qemu = c.putObject("qemu").put("accelerator", accelerator);
        if (guest != null) {
            // The tiny guest boots directly; its agent quiesces each backup (fsfreeze) when the image has one.
            c.putObject("boot").put("kernel", guest.kernel().toString()).put("initrd", guest.initrd().toString())
                    .put("append", GuestImage.append(guestPort, 10, options.guestLoad()));
            if (guest.guestAgent()) {
                qemu.put("guest-agent-socket", new InstanceLayout(dataDir).guestAgentSocket().toString());
            }
        }
        c.putObject("zookeeper").put("connect", connect).put("base-path", base)
                .put("session-timeout-ms", SESSION.toMillis()).put("suspend-bound-ms", SESSION.toMillis() / 2);
        c.putObject("backup-server").put("bind", "127.0.0.1").put("port", 0).put("token-file", token.toString());
        Path file = scratch.resolve(node + ".json");
        Files.writeString(file, c.toPrettyString() + "\n", StandardCharsets.UTF_8);
        return file;
    }

    /**
     * The guest workload's parameters, one file per node: the same instance, but each node's
     * external disk is in its own data folder (on one machine the nodes cannot share a path).
     * The NAT is restricted: the guest is reached on its forward and reaches only 10.0.2.100.
     */
    private Path writeGuestParameters(String node, Path dataDir) throws IOException {
        ObjectNode p = baseParameters();
        p.put("use-nat", true);
        p.put("nat-restrict-mode", true);
        p.putArray("nat-rules").add(guestPort);
        p.put("enable-http-server", true);
        p.put("httpd-port", httpdPort);
        p.put("data-to-vm", dataToVm);
        p.put("authorized-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDrill drill@resilient-kvm");
        p.putObject("external-disk").putObject("ext").put("path", externalDisk(dataDir).toString()).put("format", "qcow2");
        return writeParameters(p, "parameters-" + node + ".json");
    }

    private static Path externalDisk(Path dataDir) {
        return dataDir.resolve("external-disk").resolve("ext.qcow2");
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A guest port p whose host forward 10000 + p is free now (nat-rules allow p up to 55535). */
    private static int freeGuestPort() throws IOException {
        for (int i = 0; i < 100; i++) {
            int port = freePort();
            if (port > 10000 && port - 10000 <= 55535 && port != 10080) {
                return port - 10000;
            }
        }
        throw new IOException("found no free port between 10001 and 65535 for the guest's NAT forward");
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new SecureRandom().nextBytes(b);
        return b;
    }

    private void step(String what) {
        out.printf(Locale.ROOT, "[%7.1fs] %s%n", (System.nanoTime() - t0) / 1e9, what);
        out.flush();
    }

    /** Stops every process it started; removes the scratch folder unless kept or failed. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (NodeProcess n : nodes.values()) {
            n.close();
        }
        if (client != null) {
            client.close();
        }
        if (zk != null) {
            zk.close();
        }
        if (scratch != null && !failed && !options.keep()) {
            try (Stream<Path> s = Files.walk(scratch)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException e) {
                out.println("could not remove " + scratch + ": " + e.getMessage());
            }
        }
    }
}

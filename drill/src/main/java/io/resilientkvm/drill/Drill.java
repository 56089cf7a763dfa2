// Over 350 lines: the drill's scenario (set-up, each round's steps and checks, tear-down) reads top to bottom in one class.
package io.resilientkvm.drill;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
    private static final List<String> NODES = List.of("node-a", "node-b", "node-c");
    private static final Duration SESSION = Duration.ofSeconds(4);
    private static final Duration STEP_TIMEOUT = Duration.ofMinutes(3);

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
                runRound(round, main, candidate, other);
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
        Path params = writeParameters();
        workload = new Workload(options.diskBytes());
        for (String node : NODES) {
            Path dataDir = scratch.resolve(node);
            Files.createDirectories(dataDir);
            Path config = writeNodeConfig(node, dataDir, params, token, connect, base);
            if (node.equals(NODES.get(0))) {
                // The main's disk: blank, of the drill's size (the parameters only know whole GiB).
                InstanceLayout l = new InstanceLayout(dataDir);
                Files.createDirectories(l.mainDisk().getParent());
                DiskCheck.expected(l.mainDisk(), options.diskBytes(), List.of());
            }
            nodes.put(node, NodeProcess.start(node, config, new InstanceLayout(dataDir), scratch.resolve("logs")));
        }
        step("started " + String.join(", ", NODES) + " (logs in " + scratch.resolve("logs") + ")");
    }

    private void runRound(int round, String main, String candidate, String other)
            throws OperatorException, IOException, InterruptedException {
        step("round " + round + ": main " + main + ", takeover by " + candidate + ", " + other + " follows");
        Epoch epoch = await("the main " + main + " runs its VM and announces itself", () -> mainOf(main));
        await("clones " + candidate + " and " + other + " are importing", () ->
                role(candidate) == Role.CLONE && role(other) == Role.CLONE ? Optional.of(true) : Optional.empty());
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
        int exit = runTakeover(candidate);
        report.check("round " + round + ": bin/takeover on " + candidate + " exits 0", exit == 0, "exit " + exit);
        if (exit != 0) {
            throw new OperationFailedException("bin/takeover on " + candidate + " exited " + exit + "; see "
                    + scratch.resolve("logs").resolve("takeover-" + round + ".log"));
        }
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

        Epoch ne = newEpoch;
        BackupManifest firstOfNewMain = await("the new main's first backup (a full of a new chain)", () ->
                catalog.list().stream().filter(m -> m.device().equals(DEVICE) && m.epoch() == ne.number()
                        && m.level() == BackupManifest.Level.FULL).findFirst());
        await(other + " follows the new main and holds its full", () ->
                holds(statuses, other, firstOfNewMain) ? Optional.of(true) : Optional.empty());
        report.check("round " + round + ": " + other + " follows the new main " + candidate, true,
                "holds " + firstOfNewMain.file() + " of epoch " + ne.number());

        Path candidateRepo = nodes.get(candidate).layout().backupRepository();
        Path candidateDisk = nodes.get(candidate).layout().mainDisk();
        await(candidate + " streams the restored chain into the VM's disk and releases its hold", () -> {
            try {
                return new Holds(candidateRepo).list().isEmpty() ? Optional.of(true) : Optional.empty();
            } catch (OperatorException e) {
                return Optional.empty();
            }
        });
        String backing = new QemuImg().info(candidateDisk).backingFile();
        report.check("round " + round + ": the new VM's disk has no backing file after the stream", backing == null,
                backing == null ? candidateDisk.toString() : "still backed by " + backing);
        report.check("round " + round + ": the new VM's disk no longer depends on the restored chain", true,
                "block-stream done, hold released in " + candidateRepo);

        double rpoSeconds = Duration.between(lastPoint.startedAt(), kill).toMillis() / 1000.0;
        report.add(new DrillReport.Round(round, main, candidate, newEpoch.number(), backups,
                publishedBytes(catalog) - bytesBefore, copiedBytes(epoch.number(), List.of(candidate, other)), lastPoint.chainId() + "/" + lastPoint.file(),
                rpoSeconds, lost.length(), rto));
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
        long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
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
        throw new OperationFailedException("timed out after " + STEP_TIMEOUT.toSeconds() + " s waiting until " + what
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

    private Path writeParameters() throws IOException {
        ObjectMapper m = new ObjectMapper();
        ObjectNode p = m.createObjectNode();
        p.put("-sla-0-computer_guid", NODES.get(0));
        p.put("-sla-1-computer_guid", NODES.get(1));
        p.put("-sla-2-computer_guid", NODES.get(2));
        p.put("ram-size", 256);
        p.put("cpu-count", 1);
        p.put("disk-size", 1);
        p.put("use-nat", false);
        p.put("use-tap", false);
        p.put("resiliency-backup-periodicity", "@every " + options.intervalSeconds() + "s");
        Path file = scratch.resolve("parameters.json");
        Files.writeString(file, p.toPrettyString() + "\n", StandardCharsets.UTF_8);
        return file;
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
        c.putObject("qemu").put("accelerator", options.accelerator());
        c.putObject("zookeeper").put("connect", connect).put("base-path", base)
                .put("session-timeout-ms", SESSION.toMillis()).put("suspend-bound-ms", SESSION.toMillis() / 2);
        c.putObject("backup-server").put("bind", "127.0.0.1").put("port", 0).put("token-file", token.toString());
        Path file = scratch.resolve(node + ".json");
        Files.writeString(file, c.toPrettyString() + "\n", StandardCharsets.UTF_8);
        return file;
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

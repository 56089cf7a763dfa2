package io.resilientkvm.drill;

import io.resilientkvm.drill.netns.NetnsSecrets;
import io.resilientkvm.drill.netns.ZkEnsemble;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkTlsStores;
import io.resilientkvm.importer.restore.Holds;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import io.resilientkvm.takeover.protocol.FencedNodes;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;

/**
 * What every round of the drill does whatever the workload: wait for the main and the clones,
 * run bin/takeover, check the new main's follower and block-stream, and the waits and
 * ZooKeeper queries the workloads' checks use.
 */
abstract class DrillRound {
    static final String DEVICE = "virtio0";

    final DrillOptions options;
    final DrillReport report;
    final DrillCluster cluster;
    final CuratorFramework client;
    final ZkLayout layout;
    final Path scratch;
    private final PrintWriter out;
    private final Consumer<String> steps;
    /** The running round's link cut, with {@code --disaster cut}. */
    private CutWatch cut;
    private long takeoverEnded;
    private boolean tlsChecked;

    /** After {@link DrillCluster#setUp()}: the nodes run. */
    DrillRound(DrillOptions options, DrillReport report, DrillCluster cluster, PrintWriter out, Consumer<String> steps) {
        this.options = options;
        this.report = report;
        this.cluster = cluster;
        this.client = cluster.client();
        this.layout = cluster.layout();
        this.scratch = cluster.scratch();
        this.out = out;
        this.steps = steps;
    }

    /** One round: backups, the main killed, the takeover by {@code candidate}, the checks. */
    abstract void run(int round, String main, String candidate, String other)
            throws OperatorException, IOException, InterruptedException;

    /**
     * The end of every round: the new main's first backup (a full of a new chain) reaches the
     * other clone, and the new main streams the restored chain into its main disk (the node
     * streams the main disk only: an external disk stays an overlay on its held chain).
     */
    void followAndStream(int round, String candidate, String other, Epoch newEpoch, ManifestCatalog catalog,
            ImporterStatusStore statuses) throws OperatorException, InterruptedException {
        BackupManifest firstOfNewMain = await("the new main's first backup (a full of a new chain)", () ->
                catalog.list().stream().filter(m -> m.device().equals(DEVICE) && m.epoch() == newEpoch.number()
                        && m.level() == BackupManifest.Level.FULL).findFirst());
        await(other + " follows the new main and holds its full", () ->
                holds(statuses, other, firstOfNewMain) ? Optional.of(true) : Optional.empty());
        report.check("round " + round + ": " + other + " follows the new main " + candidate, true,
                "holds " + firstOfNewMain.file() + " of epoch " + newEpoch.number());
        Path candidateRepo = node(candidate).layout().backupRepository();
        Path candidateDisk = node(candidate).layout().mainDisk();
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
    Epoch startRound(int round, String main, String candidate, String other) throws OperatorException, InterruptedException {
        step("round " + round + ": main " + main + ", takeover by " + candidate + ", " + other + " follows");
        Epoch epoch = await("the main " + main + " runs its VM and announces itself", () -> mainOf(main));
        await("clones " + candidate + " and " + other + " are importing", () ->
                role(candidate) == Role.CLONE && role(other) == Role.CLONE ? Optional.of(true) : Optional.empty());
        Optional<String> address = cluster.hostAddress(main);
        if (address.isPresent()) {
            // On a bed the clones reach the main only at its host's address, so it must announce that.
            MemberInfo m = Membership.list(client, layout).get(main);
            String announced = m == null ? "" : java.net.URI.create(m.address()).getHost();
            report.check("round " + round + ": the main " + main + " announces its backup server at its host's address "
                    + address.get(), address.get().equals(announced), m == null ? "no member znode" : m.address());
            if (!tlsChecked && m != null) {
                tlsChecked = true;
                checkTls(main, java.net.URI.create(m.address()));
            }
        }
        return epoch;
    }

    /**
     * Once per drill on a bed: the main's backup server serves HTTPS, and every host's peer channel
     * and ZooKeeper server speak TLS with the instance CA's certificate of that node (the drill's
     * own ZooKeeper client has only TLS to connect with: the servers have no plain port).
     */
    private void checkTls(String main, java.net.URI backupServer) throws OperatorException {
        ZkTlsStores stores = cluster.secrets().zkTls(main);
        BedTls probe;
        try {
            probe = BedTls.trusting(stores.truststore(), stores.truststorePasswordFile());
        } catch (IOException e) {
            throw new OperationFailedException("cannot read the bed's truststore: " + e.getMessage(), e);
        }
        List<String> seen = new ArrayList<>();
        boolean ok = "https".equals(backupServer.getScheme());
        String backup = probe.subject(backupServer.getHost(), backupServer.getPort());
        ok &= backup.equals("CN=" + main);
        seen.add("backup server " + backupServer + ": " + backup);
        for (String node : DrillCluster.NODES) {
            String host = cluster.hostAddress(node).orElseThrow();
            String channel = probe.subject(host, NetnsSecrets.CHANNEL_PORT);
            String zk = probe.subject(host, ZkEnsemble.CLIENT_PORT);
            ok &= channel.equals("CN=" + node) && zk.equals("CN=" + node + " zookeeper");
            seen.add(node + " peer channel " + host + ":" + NetnsSecrets.CHANNEL_PORT + ": " + channel
                    + ", ZooKeeper " + host + ":" + ZkEnsemble.CLIENT_PORT + ": " + zk);
        }
        report.check("TLS: backup servers, ZooKeeper, peer channel (pinned certificates, per-clone tokens, ZooKeeper ACLs)", ok,
                String.join("; ", seen));
    }

    /**
     * The disaster, which returns once ZooKeeper has dropped the main's session: SIGKILL of the
     * main's agent and VM, or with {@code --disaster cut} its host's link down (its processes go
     * on, cut from everything: it must fence itself).
     */
    void disaster(int round, String main, String candidate) throws OperatorException, IOException, InterruptedException {
        if (options.cut()) {
            cut = CutWatch.start(round, node(main), node(candidate));
            cluster.cut(main);
            step("DISASTER: " + main + "'s host " + cluster.hostAddress(main).orElseThrow() + " cut from everything (link down)");
        } else {
            node(main).killHard();
            step("DISASTER: SIGKILL of " + main + "'s agent and VM");
        }
        await("ZooKeeper notices " + main + " is gone", () ->
                Membership.list(client, layout).containsKey(main) ? Optional.empty() : Optional.of(true));
        if (cut != null) {
            cut.sessionGone();
        }
    }

    /**
     * After the takeover of a cut main: its VM stopped by itself (the main fenced itself without
     * ZooKeeper), before the new main's VM started, and its agent ended fenced (exit 3). Logs
     * the timings. Nothing without a cut.
     */
    void afterCut(int round, String main) throws OperatorException, InterruptedException {
        if (cut == null) {
            return;
        }
        CutWatch c = cut;
        await("the cut main " + main + "'s VM has stopped", () -> c.oldVmStopped() ? Optional.of(true) : Optional.empty());
        await("the cut main " + main + "'s agent has ended", () -> node(main).isAlive() ? Optional.empty() : Optional.of(true));
        double stopped = c.seconds(c.oldVmStoppedAt());
        double session = c.seconds(c.sessionGoneAt());
        double done = c.seconds(takeoverEnded);
        double bound = (DrillCluster.SESSION.toMillis() * 2 / 3 + DrillCluster.SESSION.toMillis() / 2) / 1000.0;
        report.check("round " + round + ": the cut main " + main + " fenced itself: its VM stopped without ZooKeeper", true,
                String.format(Locale.ROOT, "%.2f s after the cut (bound: ZooKeeper's read timeout %.2f s + suspend bound %.2f s = %.2f s)",
                        stopped, DrillCluster.SESSION.toMillis() * 2 / 3 / 1000.0, DrillCluster.SESSION.toMillis() / 2 / 1000.0, bound));
        report.check("round " + round + ": the cut main " + main + "'s agent ended fenced (exit 3)", node(main).exitValue() == 3,
                "exit " + node(main).exitValue());
        long newVm = c.newVmStartedAt();
        report.check("round " + round + ": the old main's VM stopped before the new main's VM started",
                newVm != 0 && c.oldVmStoppedAt() < newVm, newVm == 0 ? "the new VM was not seen starting"
                        : String.format(Locale.ROOT, "margin %.2f s", (newVm - c.oldVmStoppedAt()) / 1e9));
        report.timing(round, "cut -> old VM stopped", stopped);
        report.timing(round, "cut -> ZooKeeper dropped the old main's session", session);
        report.timing(round, "cut -> bin/takeover done", done);
        if (newVm != 0) {
            report.timing(round, "cut -> new VM started", c.seconds(newVm));
        }
        step(String.format(Locale.ROOT, "cut %s: its VM stopped %.2f s after the cut, ZooKeeper dropped it at %.2f s, bin/takeover"
                + " done at %.2f s", main, stopped, session, done));
    }


    /** {@code bin/takeover --yes} on the candidate, which must exit 0. */
    void takeover(int round, String candidate) throws OperatorException, IOException, InterruptedException {
        int exit = runTakeover(candidate);
        takeoverEnded = System.nanoTime();
        report.check("round " + round + ": bin/takeover on " + candidate + " exits 0", exit == 0, "exit " + exit);
        if (exit != 0) {
            throw new OperationFailedException("bin/takeover on " + candidate + " exited " + exit + "; see "
                    + scratch.resolve("logs").resolve("takeover-" + candidate + ".log"));
        }
    }

    /**
     * The old main comes back: an operator clears its fence and it rejoins as a clone. After a
     * cut its link returns first, and it must then import the new main's backups across the bed.
     */
    void rejoin(String oldMain) throws OperatorException, IOException, InterruptedException {
        long healed = 0;
        if (cut != null) {
            cluster.heal(oldMain);
            healed = System.nanoTime();
            step(oldMain + "'s host link is back");
        }
        int exit = runCli(oldMain, List.of("io.resilientkvm.cli.takeover.TakeoverCommand", "clear-fence", "--config",
                node(oldMain).config().toString(), "--yes"), "clear-fence-" + oldMain);
        report.check(oldMain + ": fence cleared by the operator", exit == 0, "exit " + exit);
        node(oldMain).launch();
        await(oldMain + " rejoins as a clone", () -> role(oldMain) == Role.CLONE ? Optional.of(true) : Optional.empty());
        step(oldMain + " rejoined as a clone");
        if (cut != null) {
            int round = cut.round();
            ManifestCatalog catalog = new ManifestCatalog(client, layout);
            ImporterStatusStore statuses = new ImporterStatusStore(client, layout);
            long epoch = new EpochStore(client, layout).current().map(Epoch::number).orElse(-1L);
            Instant rejoined = Instant.now();
            // A backup of the new main started after the rejoin: the old main fetched it from the new main's host.
            BackupManifest next = await("a backup of the new main after " + oldMain + " rejoined", () ->
                    catalog.newestPerDevice().stream().filter(m -> m.device().equals(DEVICE) && m.epoch() == epoch
                            && m.startedAt().isAfter(rejoined)).findFirst());
            await(oldMain + " imports it from the new main", () -> holds(statuses, oldMain, next) ? Optional.of(true) : Optional.empty());
            double seconds = (System.nanoTime() - healed) / 1e9;
            report.check("round " + round + ": the old main " + oldMain + " rejoined as a clone and imports the new main's backups",
                    true, String.format(Locale.ROOT, "holds %s of epoch %d, %.2f s after its link came back", next.file(), epoch, seconds));
            report.timing(round, "link back -> old main rejoined and imported a backup of the new main", seconds);
            cut.close();
            cut = null;
        }
    }

    int runTakeover(String candidate) throws IOException, InterruptedException, OperatorException {
        return runCli(candidate, List.of("io.resilientkvm.cli.takeover.TakeoverCommand", "--config",
                node(candidate).config().toString(), "--yes"), "takeover-" + candidate);
    }

    /** A command of the project's CLI run as a separate JVM on {@code node}'s host (its namespace on a bed). */
    int runCli(String node, List<String> args, String logName) throws IOException, InterruptedException, OperatorException {
        List<String> cmd = new ArrayList<>(cluster.inside(node));
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path")));
        cmd.addAll(args);
        Path log = scratch.resolve("logs").resolve(logName + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        if (!p.waitFor(DrillCluster.STEP_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new OperationFailedException(args.get(0) + " did not finish within " + DrillCluster.STEP_TIMEOUT.toSeconds() + " s; see " + log);
        }
        try (Stream<String> lines = Files.lines(log)) {
            lines.forEach(l -> out.println("        | " + l));
        }
        out.flush();
        return p.exitValue();
    }

    Optional<Epoch> mainOf(String node) throws OperatorException {
        Optional<Epoch> epoch = new EpochStore(client, layout).current();
        MemberInfo m = Membership.list(client, layout).get(node);
        if (epoch.isPresent() && m != null && m.role() == Role.MAIN && m.epoch() == epoch.get().number()
                && epoch.get().owner().equals(node)) {
            return epoch;
        }
        return Optional.empty();
    }

    boolean isFenced(String node) throws OperationFailedException {
        return new FencedNodes(client, layout).isFenced(node);
    }

    Role role(String node) throws OperatorException {
        MemberInfo m = Membership.list(client, layout).get(node);
        return m == null ? null : m.role();
    }

    static Optional<BackupManifest> newestAfter(ManifestCatalog catalog, Epoch epoch, Instant after)
            throws OperatorException {
        return catalog.newestPerDevice().stream().filter(m -> m.device().equals(DEVICE) && m.epoch() == epoch.number()
                && m.startedAt().isAfter(after)).findFirst();
    }

    static boolean holds(ImporterStatusStore statuses, String clone, BackupManifest m) throws OperatorException {
        Optional<ImporterStatus.Point> p = statuses.read(clone).flatMap(s -> s.point(m.device()));
        return p.isPresent() && p.get().atLeast(m.chainId(), m.sequence());
    }

    static long publishedBytes(ManifestCatalog catalog) throws OperatorException {
        return catalog.list().stream().mapToLong(BackupManifest::fileSize).sum();
    }

    /** Bytes of the backups the main of {@code epoch} made that {@code clones} hold: what was copied to them. */
    long copiedBytes(long epoch, List<String> clones) throws IOException {
        long sum = 0;
        for (String clone : clones) {
            BackupRepository repo = new BackupRepository(node(clone).layout().backupRepository());
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

    interface Check<T> {
        Optional<T> poll() throws OperatorException, IOException;
    }

    interface PausedCheck {
        boolean run() throws OperatorException;
    }

    <T> T await(String what, Check<T> check) throws OperatorException, InterruptedException {
        step("waiting: " + what);
        long deadline = System.nanoTime() + cluster.stepTimeout().toNanos();
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
        throw new OperationFailedException("timed out after " + cluster.stepTimeout().toSeconds() + " s waiting until " + what
                + (lastError.isEmpty() ? "" : " (last error: " + lastError + ")") + "; see the node logs in " + scratch.resolve("logs"));
    }

    boolean withVmPaused(Path socket, PausedCheck check) throws OperatorException {
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

    NodeProcess node(String name) {
        return cluster.node(name);
    }

    void step(String what) {
        steps.accept(what);
    }
}

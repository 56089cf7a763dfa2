package io.resilientkvm.drill;

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
        return epoch;
    }

    /** {@code bin/takeover --yes} on the candidate, which must exit 0. */
    void takeover(int round, String candidate) throws OperatorException, IOException, InterruptedException {
        int exit = runTakeover(candidate);
        report.check("round " + round + ": bin/takeover on " + candidate + " exits 0", exit == 0, "exit " + exit);
        if (exit != 0) {
            throw new OperationFailedException("bin/takeover on " + candidate + " exited " + exit + "; see "
                    + scratch.resolve("logs").resolve("takeover-" + candidate + ".log"));
        }
    }

    /** The old main comes back: an operator clears its fence and it rejoins as a clone. */
    void rejoin(String oldMain) throws OperatorException, IOException, InterruptedException {
        int exit = runCli(oldMain, List.of("io.resilientkvm.cli.takeover.TakeoverCommand", "clear-fence", "--config",
                node(oldMain).config().toString(), "--yes"), "clear-fence-" + oldMain);
        report.check(oldMain + ": fence cleared by the operator", exit == 0, "exit " + exit);
        node(oldMain).launch();
        await(oldMain + " rejoins as a clone", () -> role(oldMain) == Role.CLONE ? Optional.of(true) : Optional.empty());
        step(oldMain + " rejoined as a clone");
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

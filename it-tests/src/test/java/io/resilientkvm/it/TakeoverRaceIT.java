package io.resilientkvm.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.node.zk.EmbeddedZooKeeper;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatus.Point;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three node agents as separate JVMs with a real VM on the main. Two up-to-date clones race
 * bin/takeover after the main is killed: exactly one wins, the other is refused (exit 3). Then a
 * clone that was stopped while the new main made backups is refused (exit 3, behind) and takes
 * over with --force.
 */
class TakeoverRaceIT {
    private static final List<String> NODES = ThreeAgents.NODES;
    /**
     * The first main's schedule: it makes its first full at start (the catalog is empty) and no
     * other backup during the test (the next run is on a 29 February at midnight), so both clones
     * provably hold everything it published when it is killed. With the clones' 5 s schedule, an
     * incremental published just before the kill left both clones behind and both were refused.
     */
    private static final String FIRST_MAIN_SCHEDULE = "0 0 29 2 *";
    /** The clones' schedule, used once one of them is the main. */
    private static final String CLONE_SCHEDULE = "@every 5s";

    @TempDir
    Path dir;

    private final Map<String, Process> agents = new LinkedHashMap<>();
    private final Map<String, Path> configs = new LinkedHashMap<>();
    private final List<Path> dataDirs = new ArrayList<>();

    @AfterEach
    void stopEverything() {
        agents.values().forEach(Process::destroyForcibly);
        ChildJvm.killAllUsing(dataDirs);
    }

    @Test
    void racingClonesMakeExactlyOneMainAndALaggingCloneNeedsForce() throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-it", "race");
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0);
                CuratorFramework zkc = ZkClients.connect(ZkSettings.of(zk.connectString()))) {
            setUp(zk.connectString());
            ManifestCatalog catalog = new ManifestCatalog(zkc, layout);
            ImporterStatusStore statuses = new ImporterStatusStore(zkc, layout);
            awaitRole(zkc, layout, "node-a", Role.MAIN);
            awaitRole(zkc, layout, "node-b", Role.CLONE);
            awaitRole(zkc, layout, "node-c", Role.CLONE);
            BackupManifest first = await("a first backup").atMost(2, TimeUnit.MINUTES)
                    .until(() -> catalog.newestPerDevice().stream().findFirst().orElse(null), m -> m != null);
            awaitHeld(statuses, "node-b", first);
            awaitHeld(statuses, "node-c", first);

            killMain("node-a", zkc, layout);
            assertEquals(List.of(first.file()), catalog.list().stream().map(BackupManifest::file).toList(),
                    "node-a published only its first full, which both clones hold");
            Process b = takeover("node-b", "race-b");
            Process c = takeover("node-c", "race-c");
            assertTrue(b.waitFor(3, TimeUnit.MINUTES) && c.waitFor(3, TimeUnit.MINUTES), "both takeovers end");
            List<Integer> exits = List.of(b.exitValue(), c.exitValue());
            assertTrue(exits.contains(0) && exits.contains(3), "one wins, the other is refused: " + exits + "\n"
                    + Files.readString(dir.resolve("race-b.log")) + "\n" + Files.readString(dir.resolve("race-c.log")));
            String winner = b.exitValue() == 0 ? "node-b" : "node-c";
            String loser = winner.equals("node-b") ? "node-c" : "node-b";
            assertEquals(1, new EpochStore(zkc, layout).current().orElseThrow().number(), "the epoch moved exactly once");
            assertEquals(winner, new EpochStore(zkc, layout).current().orElseThrow().owner());
            awaitRole(zkc, layout, winner, Role.MAIN);
            assertEquals(1, Membership.list(zkc, layout).values().stream().filter(m -> m.role() == Role.MAIN).count(),
                    "exactly one main");

            // The loser follows the new main; stop it, let the new main make backups it misses.
            BackupManifest newFull = await("the new main's full").atMost(2, TimeUnit.MINUTES).until(() -> catalog.list()
                    .stream().filter(m -> m.epoch() == 1).findFirst().orElse(null), m -> m != null);
            awaitHeld(statuses, loser, newFull);
            agents.get(loser).destroy(); // SIGTERM: a clean stop
            assertTrue(agents.get(loser).waitFor(1, TimeUnit.MINUTES));
            // The clone may have imported more than newFull before it stopped (an incremental follows
            // the full within seconds): what it lacks is what comes after its own newest backup.
            Point held = heldOnDisk(loser, newFull.device());
            BackupManifest missed = await("the new main publishes a backup after " + held.file() + ", the newest the stopped "
                    + loser + " holds").atMost(2, TimeUnit.MINUTES).until(() -> catalog.newestPerDevice().stream()
                            .filter(m -> m.device().equals(held.device()) && !held.atLeast(m.chainId(), m.sequence()))
                            .findFirst().orElse(null), Objects::nonNull);
            killMain(winner, zkc, layout);
            agents.put(loser, start(loser));
            awaitRole(zkc, layout, loser, Role.CLONE);
            await("the restarted clone reports its (older) point under the current epoch").atMost(1, TimeUnit.MINUTES)
                    .until(() -> statuses.read(loser).map(s -> s.epoch() == 1).orElse(false));

            Process refused = takeover(loser, "lagging");
            assertTrue(refused.waitFor(3, TimeUnit.MINUTES));
            String refusal = Files.readString(dir.resolve("lagging.log"));
            assertEquals(3, refused.exitValue(), loser + " holds " + held.chainId() + "/" + held.file() + ", the main published "
                    + missed.chainId() + "/" + missed.file() + "\n" + refusal);
            assertTrue(refusal.contains("--force"), refusal);
            assertEquals(1, new EpochStore(zkc, layout).current().orElseThrow().number(), "a refusal changes nothing");

            Process forced = takeover(loser, "forced", "--force");
            assertTrue(forced.waitFor(3, TimeUnit.MINUTES));
            assertEquals(0, forced.exitValue(), Files.readString(dir.resolve("forced.log")));
            assertEquals(2, new EpochStore(zkc, layout).current().orElseThrow().number());
            awaitRole(zkc, layout, loser, Role.MAIN);
        }
    }

    private void setUp(String connect) throws Exception {
        configs.putAll(ThreeAgents.write(dir, "race", connect, 4000,
                node -> node.equals("node-a") ? FIRST_MAIN_SCHEDULE : CLONE_SCHEDULE, ""));
        for (String node : NODES) {
            dataDirs.add(dir.resolve(node));
            agents.put(node, start(node));
        }
    }

    private Process start(String node) throws Exception {
        return ThreeAgents.startAgent(dir, node, configs.get(node));
    }

    private Process takeover(String node, String log, String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("io.resilientkvm.cli.takeover.TakeoverCommand", "--config",
                configs.get(node).toString(), "--yes"));
        args.addAll(List.of(extra));
        return java(args, dir.resolve(log + ".log"));
    }

    private static Process java(List<String> args, Path log) throws Exception {
        return ChildJvm.start(List.of(), args, log);
    }

    /** SIGKILL of the main's agent and VM, then wait until ZooKeeper drops its session. */
    private void killMain(String node, CuratorFramework zkc, ZkLayout layout) throws Exception {
        InstanceLayout l = new InstanceLayout(dir.resolve(node));
        long qemu = Long.parseLong(Files.readString(l.pidFile()).strip());
        agents.get(node).destroyForcibly();
        ProcessHandle.of(qemu).ifPresent(ProcessHandle::destroyForcibly);
        await(node + "'s session expires").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100))
                .until(() -> !Membership.list(zkc, layout).containsKey(node));
    }

    private static void awaitRole(CuratorFramework zkc, ZkLayout layout, String node, Role role) {
        ThreeAgents.awaitRole(zkc, layout, node, role);
    }

    /** The newest backup of {@code device} in the repository of {@code node}, read from its disk. */
    private Point heldOnDisk(String node, String device) throws Exception {
        BackupManifest m = new BackupRepository(new InstanceLayout(dir.resolve(node)).backupRepository()).newestBackup(device)
                .orElseThrow(() -> new AssertionError(node + " holds no backup of " + device));
        return new Point(m.device(), m.chainId(), m.sequence(), m.file(), m.startedAt());
    }

    private static void awaitHeld(ImporterStatusStore statuses, String node, BackupManifest m) {
        ThreeAgents.awaitHeld(statuses, node, m);
    }
}

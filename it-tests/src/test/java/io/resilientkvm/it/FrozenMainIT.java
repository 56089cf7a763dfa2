package io.resilientkvm.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.process.ProcStat;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.node.zk.EmbeddedZooKeeper;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 14's frozen main: three node agents as separate JVMs on a real ZooKeeper; the main's agent
 * JVM is frozen with SIGSTOP while its QEMU runs, past its session; then bin/takeover on a clone.
 * The old VM must be paused by its keeper before the new VM's QEMU starts (the margin is logged),
 * and the old main, thawed, must stay fenced with its VM stopped.
 */
class FrozenMainIT {
    private static final Logger LOG = LoggerFactory.getLogger(FrozenMainIT.class);
    private static final List<String> NODES = ThreeAgents.NODES;
    private static final long LEASE_MS = 2000;
    private static final Pattern PAUSED = Pattern.compile("^(\\S+) VmKeeper: PAUSED QEMU pid (\\d+)", Pattern.MULTILINE);

    @TempDir
    Path dir;

    private final Map<String, Process> agents = new LinkedHashMap<>();
    private final Map<String, Path> configs = new LinkedHashMap<>();
    private final List<Path> dataDirs = new ArrayList<>();
    private long frozenAgent = -1;

    @AfterEach
    void stopEverything() throws Exception {
        if (frozenAgent > 0) {
            signal("CONT", frozenAgent); // a stopped JVM ignores nothing but SIGKILL; thaw it so it can go
        }
        agents.values().forEach(Process::destroyForcibly);
        ChildJvm.killAllUsing(dataDirs);
    }

    @Test
    void aFrozenMainsVmIsPausedBeforeTheNewVmStartsAndStaysFencedWhenThawed() throws Exception {
        frozenMainThenTakeover(false);
    }

    /**
     * bin/takeover --force at once, while the frozen main's session still lives (MAIN_ALIVE
     * forced): the promoted main waits for the exporter lock until that session expires, and the
     * old VM is paused long before.
     */
    @Test
    void aForcedTakeoverRightAfterTheFreezeStillStartsTheNewVmAfterTheOldOneIsPaused() throws Exception {
        frozenMainThenTakeover(true);
    }

    private void frozenMainThenTakeover(boolean atOnce) throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-it", "frozen");
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0);
                CuratorFramework zkc = ZkClients.connect(ZkSettings.of(zk.connectString()))) {
            // At once: a session long enough that it still lives when bin/takeover reads, however slow its JVM starts.
            setUp(zk.connectString(), atOnce ? 20_000 : 4000);
            awaitRole(zkc, layout, "node-a", Role.MAIN);
            awaitRole(zkc, layout, "node-b", Role.CLONE);
            awaitRole(zkc, layout, "node-c", Role.CLONE);
            ManifestCatalog catalog = new ManifestCatalog(zkc, layout);
            ImporterStatusStore statuses = new ImporterStatusStore(zkc, layout);
            BackupManifest first = await("a first backup").atMost(2, TimeUnit.MINUTES)
                    .until(() -> catalog.newestPerDevice().stream().findFirst().orElse(null), m -> m != null);
            awaitHeld(statuses, "node-b", first);
            awaitHeld(statuses, "node-c", first);

            InstanceLayout a = new InstanceLayout(dir.resolve("node-a"));
            long oldQemu = Long.parseLong(Files.readString(a.pidFile()).strip());
            assertTrue(!ProcStat.read(oldQemu).orElseThrow().stopped(), "the old VM runs before the freeze");
            frozenAgent = agents.get("node-a").pid();
            signal("STOP", frozenAgent);
            List<String> takeoverArgs = new ArrayList<>(List.of("io.resilientkvm.cli.takeover.TakeoverCommand", "--config",
                    configs.get("node-b").toString(), "--yes"));
            if (atOnce) {
                takeoverArgs.add("--force"); // node-a still announces MAIN: its session lives for a few more seconds
            } else {
                await("node-a's session expires while its agent is frozen").atMost(1, TimeUnit.MINUTES)
                        .pollInterval(Duration.ofMillis(100)).until(() -> !Membership.list(zkc, layout).containsKey("node-a"));
                assertTrue(ProcStat.read(oldQemu).orElseThrow().stopped(), "paused by its keeper, whose lease (" + LEASE_MS
                        + " ms) is shorter than the session (4000 ms): " + Files.readString(a.vmKeeperLog()));
            }

            Process takeover = ChildJvm.start(List.of(), takeoverArgs, dir.resolve("takeover.log"));
            if (!takeover.waitFor(3, TimeUnit.MINUTES)) {
                takeover.destroyForcibly();
                throw new AssertionError("the takeover did not end within 3 min:\n" + Files.readString(dir.resolve("takeover.log"))
                        + "\nnode-b:\n" + Files.readString(dir.resolve("node-b.log")));
            }
            String out = Files.readString(dir.resolve("takeover.log"));
            assertEquals(0, takeover.exitValue(), out);
            LOG.info("bin/takeover on node-b:\n{}", out);
            if (atOnce) {
                assertTrue(out.contains("MAIN_ALIVE"), "node-a still announced MAIN: the takeover was forced past it\n" + out);
            }
            assertTrue(out.contains("AWAIT_OLD_VM") && out.contains("waiting " + (LEASE_MS + LEASE_MS / 10) + " ms"), out);
            awaitRole(zkc, layout, "node-b", Role.MAIN);

            long newQemu = Long.parseLong(Files.readString(new InstanceLayout(dir.resolve("node-b")).pidFile()).strip());
            Instant newStart = ProcessHandle.of(newQemu).orElseThrow().info().startInstant().orElseThrow();
            Instant paused = pausedAt(a.vmKeeperLog(), oldQemu);
            Duration margin = Duration.between(paused, newStart);
            LOG.info("Frozen main ({}): old VM (pid {}) paused at {}, new VM's QEMU (pid {}) started at {}: margin {} ms",
                    atOnce ? "forced takeover at once" : "takeover after the session expired", oldQemu, paused, newQemu,
                    newStart, margin.toMillis());
            assertTrue(!margin.isNegative() && !margin.isZero(), "the old VM is paused before the new one starts: margin "
                    + margin.toMillis() + " ms");
            assertTrue(ProcStat.read(oldQemu).orElseThrow().stopped(), "still paused while its agent stays frozen");

            signal("CONT", frozenAgent);
            frozenAgent = -1;
            Process oldAgent = agents.get("node-a");
            assertTrue(oldAgent.waitFor(2, TimeUnit.MINUTES), "the thawed main fences itself and exits");
            assertEquals(3, oldAgent.exitValue(), Files.readString(dir.resolve("node-a.log")));
            assertTrue(ProcessHandle.of(oldQemu).map(p -> !p.isAlive()).orElse(true), "the old VM is stopped");
            assertTrue(Files.exists(a.etc().resolve("fenced.json")), "the fence marker stays");
            assertTrue(Files.readString(dir.resolve("node-a.log")).contains("paused by its watchdog: killing it"),
                    "killed as paused, never resumed");
            assertTrue(Files.readString(a.vmKeeperLog()).lines().noneMatch(l -> l.contains("RESUMED")),
                    "the old VM never ran again: " + Files.readString(a.vmKeeperLog()));
            assertEquals("node-b", new EpochStore(zkc, layout).current().orElseThrow().owner());
            MemberInfo b = Membership.list(zkc, layout).get("node-b");
            assertEquals(Role.MAIN, b.role());
            assertTrue(ProcessHandle.of(newQemu).map(ProcessHandle::isAlive).orElse(false), "the new VM runs on");
        }
    }

    private static Instant pausedAt(Path keeperLog, long qemuPid) throws Exception {
        Matcher m = PAUSED.matcher(Files.readString(keeperLog));
        while (m.find()) {
            if (Long.parseLong(m.group(2)) == qemuPid) {
                return Instant.parse(m.group(1));
            }
        }
        throw new AssertionError("no pause of QEMU pid " + qemuPid + " in " + keeperLog + ":\n" + Files.readString(keeperLog));
    }

    private static void signal(String signal, long pid) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertTrue(kill.waitFor(30, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + signal + " " + pid);
    }

    private void setUp(String connect, int sessionTimeoutMs) throws Exception {
        // node-a makes its first full at start and no other backup (next run on a 29 February), so both clones hold it.
        configs.putAll(ThreeAgents.write(dir, "frozen", connect, sessionTimeoutMs, node -> "0 0 29 2 *",
                "\"vm-watchdog\": {\"lease-ms\": " + LEASE_MS + "},"));
        for (String node : NODES) {
            dataDirs.add(dir.resolve(node));
            agents.put(node, ThreeAgents.startAgent(dir, node, configs.get(node)));
        }
    }

    private static void awaitRole(CuratorFramework zkc, ZkLayout layout, String node, Role role) {
        ThreeAgents.awaitRole(zkc, layout, node, role);
    }

    private static void awaitHeld(ImporterStatusStore statuses, String node, BackupManifest m) {
        ThreeAgents.awaitHeld(statuses, node, m);
    }
}

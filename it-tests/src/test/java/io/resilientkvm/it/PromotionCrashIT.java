package io.resilientkvm.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.lifecycle.PausePoint;
import io.resilientkvm.engine.testing.TestVm;
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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A promoting clone's agent (a JVM of its own) SIGKILLed mid-restore: the disk in the way is
 * kept aside, the overlay not yet written. Restarted plainly, it must finish the promotion by
 * itself (restore, then VM), bin/takeover must see it become the main, and its VM's disk must
 * hold exactly the last backup it verified.
 */
class PromotionCrashIT {
    private static final long MIB = 1 << 20;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failure keeps the agents' logs
    Path dir;

    private final Map<String, Process> agents = new LinkedHashMap<>();
    private final List<Path> dataDirs = new ArrayList<>();

    @AfterEach
    void stopEverything() {
        agents.values().forEach(Process::destroyForcibly);
        ChildJvm.killAllUsing(dataDirs);
    }

    @Test
    void aCloneKilledMidRestoreFinishesItsPromotionWhenRestarted() throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-it", "promo");
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0);
                CuratorFramework zkc = ZkClients.connect(ZkSettings.of(zk.connectString()))) {
            Path params = Files.writeString(dir.resolve("params.json"), """
                    {"-sla-0-computer_guid": "node-a", "-sla-1-computer_guid": "node-b",
                     "ram-size": 256, "cpu-count": 1, "disk-size": 1, "use-nat": false, "use-tap": false,
                     "resiliency-backup-periodicity": "@every 30m"}
                    """);
            Path token = io.resilientkvm.engine.secret.TestSecrets.write(dir.resolve("token"), "0123456789abcdef0123456789abcdef");
            Map<String, Path> configs = new LinkedHashMap<>();
            for (String node : List.of("node-a", "node-b")) {
                Path dataDir = dir.resolve(node);
                dataDirs.add(dataDir);
                configs.put(node, Files.writeString(dir.resolve(node + ".json"), """
                        {"node": "%s", "instance": "promo", "data-dir": "%s", "parameters": "%s",
                         "software-type": "kvm-resilient", "vnc": {"listen": "none"},
                         "zookeeper": {"connect": "%s", "base-path": "/rkvm-it", "session-timeout-ms": 4000,
                                       "suspend-bound-ms": 2000},
                         "backup-server": {"token-file": "%s"}}
                        """.formatted(node, dataDir, params, zk.connectString(), token)));
            }
            InstanceLayout a = new InstanceLayout(dir.resolve("node-a"));
            InstanceLayout b = new InstanceLayout(dir.resolve("node-b"));
            Files.createDirectories(a.mainDisk().getParent());
            run("qemu-img", "create", "-q", "-f", "qcow2", a.mainDisk().toString(), "64M");
            run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 4M", a.mainDisk().toString());

            agents.put("node-a", ChildJvm.start(List.of(), NodeCli.node(configs.get("node-a")), dir.resolve("node-a.log")));
            Path bLog = dir.resolve("node-b.log");
            agents.put("node-b", ChildJvm.start(List.of("-D" + PausePoint.PROPERTY + "=" + PausePoint.PROMOTION_RESTORE),
                    NodeCli.node(configs.get("node-b")), bLog));
            ManifestCatalog catalog = new ManifestCatalog(zkc, layout);
            BackupManifest first = await("node-a's first backup").atMost(2, TimeUnit.MINUTES)
                    .until(() -> catalog.newestPerDevice().stream().findFirst().orElse(null), m -> m != null);
            ImporterStatusStore statuses = new ImporterStatusStore(zkc, layout);
            await("node-b holds " + first.file()).atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100))
                    .until(() -> statuses.read("node-b").flatMap(s -> s.point(first.device()))
                            .map(p -> p.atLeast(first.chainId(), first.sequence())).orElse(false));

            long qemuA = Long.parseLong(Files.readString(a.pidFile()).strip());
            agents.get("node-a").destroyForcibly();
            ProcessHandle.of(qemuA).ifPresent(ProcessHandle::destroyForcibly);
            await("node-a's session expires").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100))
                    .until(() -> !Membership.list(zkc, layout).containsKey("node-a"));

            Process takeover = ChildJvm.start(List.of(), NodeCli.takeover(configs.get("node-b")), dir.resolve("takeover.log"));
            await("node-b's promotion reaches the restore").atMost(2, TimeUnit.MINUTES)
                    .pollInterval(Duration.ofMillis(100)).until(() -> Files.readString(bLog).contains("Paused at "
                            + PausePoint.PROMOTION_RESTORE) || !agents.get("node-b").isAlive());
            assertTrue(agents.get("node-b").isAlive(), Files.readString(bLog));
            agents.get("node-b").destroyForcibly(); // SIGKILL mid-restore
            assertTrue(agents.get("node-b").waitFor(30, TimeUnit.SECONDS));
            assertEquals(137, agents.get("node-b").exitValue());
            assertEquals("node-b", new EpochStore(zkc, layout).current().orElseThrow().owner());
            assertFalse(Files.exists(b.mainDisk()), "killed before the overlay was written");

            // A plain restart: no hook, nothing told about the promotion.
            agents.put("node-b", ChildJvm.start(List.of(), NodeCli.node(configs.get("node-b")), bLog));
            await("node-b is the main").atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100)).until(() -> {
                MemberInfo m = Membership.list(zkc, layout).get("node-b");
                return m != null && m.role() == Role.MAIN;
            });
            assertTrue(takeover.waitFor(3, TimeUnit.MINUTES), "bin/takeover ends");
            assertEquals(0, takeover.exitValue(), Files.readString(dir.resolve("takeover.log")));
            assertTrue(Files.readString(bLog).contains("its promotion did not finish here"), Files.readString(bLog));
            assertEquals("1", Files.readString(b.etc().resolve("promoted-epoch")).strip());

            // The VM's disk reads exactly the backup node-b had verified (the newest it held: the
            // main made no other); the new main's own full may be running beside it.
            Path backup = b.backupRepository().resolve(first.device()).resolve(first.chainId()).resolve(first.file());
            assertTrue(TestVm.sameContent(b.mainDisk(), backup), "the promoted VM's disk differs from " + backup);
            assertTrue(TestVm.hasPattern(b.mainDisk(), 0x5a, 0, 4 * MIB));
        }
    }

    private static void run(String... argv) throws Exception {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", argv) + " timed out");
        assertEquals(0, p.exitValue(), String.join(" ", argv) + ": " + out);
    }

    /** The command lines of bin/node and bin/takeover. */
    private static final class NodeCli {
        static List<String> node(Path config) {
            return List.of("io.resilientkvm.cli.node.NodeCommand", "--config", config.toString());
        }

        static List<String> takeover(Path config) {
            return List.of("io.resilientkvm.cli.takeover.TakeoverCommand", "--config", config.toString(), "--yes");
        }
    }
}

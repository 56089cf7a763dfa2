package io.resilientkvm.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.node.zk.EmbeddedZooKeeper;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A main node agent (a separate JVM with a real VM) cut from ZooKeeper stops its VM by itself
 * before its session expires, that is before its member znode vanishes and a clone could be
 * promoted; it exits 3 (fenced) and leaves its fence marker.
 */
class MainFencingIT {
    @TempDir
    Path dir;

    @Test
    void aMainCutFromZooKeeperStopsItsVmBeforeItsSessionExpires() throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-it", "fence");
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0);
                CuttableProxy proxy = new CuttableProxy(zk.port());
                CuratorFramework observer = ZkClients.connect(ZkSettings.of(zk.connectString()))) {
            Path params = Files.writeString(dir.resolve("params.json"), """
                    {"-sla-0-computer_guid": "node-a", "-sla-1-computer_guid": "node-b", "-sla-2-computer_guid": "node-c",
                     "ram-size": 256, "cpu-count": 1, "disk-size": 1, "use-nat": false, "use-tap": false}
                    """);
            Path token = io.resilientkvm.engine.secret.TestSecrets.write(dir.resolve("token"), "0123456789abcdef0123456789abcdef");
            Path dataDir = dir.resolve("node-a");
            InstanceLayout instance = new InstanceLayout(dataDir);
            ThreeAgents.blankMainDisk(instance);
            Path config = Files.writeString(dir.resolve("node-a.json"), """
                    {"node": "node-a", "instance": "fence", "data-dir": "%s", "parameters": "%s",
                     "software-type": "kvm-resilient", "vnc": {"listen": "none"},
                     "zookeeper": {"connect": "127.0.0.1:%d", "base-path": "/rkvm-it", "session-timeout-ms": 8000,
                                   "suspend-bound-ms": 2000},
                     "backup-server": {"token-file": "%s"}}
                    """.formatted(dataDir, params, proxy.port(), token));
            Path log = dir.resolve("node-a.log");
            Process agent = ThreeAgents.startAgent(dir, "node-a", config);
            try {
                await("node-a runs as main").atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100))
                        .until(() -> role(observer, layout, "node-a").filter(r -> r == Role.MAIN).isPresent());
                long qemuPid = Long.parseLong(Files.readString(instance.pidFile()).strip());
                ProcessHandle qemu = ProcessHandle.of(qemuPid).orElseThrow();

                proxy.cut();
                await("the fenced main stops its VM").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(50))
                        .until(() -> !qemu.isAlive());
                boolean memberStillThere = role(observer, layout, "node-a").isPresent();
                assertTrue(memberStillThere, "the VM must stop while the main's session still lives, so that no clone"
                        + " can be promoted while it runs; agent log:\n" + Files.readString(log));
                await("the session expires").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100))
                        .until(() -> role(observer, layout, "node-a").isEmpty());
                assertTrue(agent.waitFor(2, TimeUnit.MINUTES), "the fenced agent exits");
                assertEquals(3, agent.exitValue(), Files.readString(log));
                assertTrue(Files.exists(instance.etc().resolve("fenced.json")), "the fence marker stays for the operator");
            } finally {
                agent.destroyForcibly();
                ProcessHandle.allProcesses().filter(p -> p.info().commandLine().map(c -> c.contains(dataDir.toString()))
                        .orElse(false)).forEach(ProcessHandle::destroyForcibly);
            }
        }
    }

    private static Optional<Role> role(CuratorFramework client, ZkLayout layout, String node) throws Exception {
        MemberInfo m = Membership.list(client, layout).get(node);
        return Optional.ofNullable(m).map(MemberInfo::role);
    }
}

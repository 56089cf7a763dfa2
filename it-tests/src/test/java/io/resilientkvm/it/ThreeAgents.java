package io.resilientkvm.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.curator.framework.CuratorFramework;

/**
 * The three-agent set-up of the takeover ITs on one machine: node-a (the main of epoch 0, with a
 * blank 64 MB disk), node-b and node-c, each with its parameters and node configuration under
 * {@code dir}, a 2000 ms suspend bound; and the waits those tests share.
 */
final class ThreeAgents {
    static final List<String> NODES = List.of("node-a", "node-b", "node-c");

    private ThreeAgents() {
    }

    /**
     * Writes every node's parameters (its backup schedule from {@code schedule}) and configuration
     * ({@code extraConfig}: more top-level fields, each followed by a comma, or empty) and creates
     * node-a's disk; returns the configuration files by node.
     */
    static Map<String, Path> write(Path dir, String instance, String connect, int sessionTimeoutMs,
            Function<String, String> schedule, String extraConfig) throws Exception {
        Path token = io.resilientkvm.engine.secret.TestSecrets.write(dir.resolve("token"), "0123456789abcdef0123456789abcdef");
        Map<String, Path> configs = new LinkedHashMap<>();
        for (String node : NODES) {
            Path params = Files.writeString(dir.resolve(node + "-params.json"), """
                    {"-sla-0-computer_guid": "node-a", "-sla-1-computer_guid": "node-b", "-sla-2-computer_guid": "node-c",
                     "ram-size": 256, "cpu-count": 1, "disk-size": 1, "use-nat": false, "use-tap": false,
                     "resiliency-backup-periodicity": "%s"}
                    """.formatted(schedule.apply(node)));
            configs.put(node, Files.writeString(dir.resolve(node + ".json"), """
                    {"node": "%s", "instance": "%s", "data-dir": "%s", "parameters": "%s",
                     "software-type": "kvm-resilient", "vnc": {"listen": "none"},
                     "zookeeper": {"connect": "%s", "base-path": "/rkvm-it", "session-timeout-ms": %d,
                                   "suspend-bound-ms": 2000},
                     %s
                     "backup-server": {"token-file": "%s"}}
                    """.formatted(node, instance, dir.resolve(node), params, connect, sessionTimeoutMs, extraConfig, token)));
        }
        InstanceLayout main = new InstanceLayout(dir.resolve(NODES.get(0)));
        blankMainDisk(main);
        return configs;
    }

    /** The main's disk: a blank 64 MiB qcow2 (qemu-img). */
    static void blankMainDisk(InstanceLayout main) throws Exception {
        Files.createDirectories(main.mainDisk().getParent());
        Process create = new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", main.mainDisk().toString(), "64M")
                .inheritIO().start();
        assertTrue(create.waitFor(60, TimeUnit.SECONDS) && create.exitValue() == 0);
    }

    /** Starts the agent of {@code node} (bin/node) in a JVM of its own; output to {@code dir/NODE.log}. */
    static Process startAgent(Path dir, String node, Path config) throws Exception {
        return ChildJvm.start(List.of(), List.of("io.resilientkvm.cli.node.NodeCommand", "--config", config.toString()),
                dir.resolve(node + ".log"));
    }

    static void awaitRole(CuratorFramework zkc, ZkLayout layout, String node, Role role) {
        await(node + " is " + role).atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100)).until(() -> {
            MemberInfo m = Membership.list(zkc, layout).get(node);
            return m != null && m.role() == role;
        });
    }

    static void awaitHeld(ImporterStatusStore statuses, String node, BackupManifest m) {
        await(node + " holds " + m.file()).atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100))
                .until(() -> statuses.read(node).flatMap(s -> s.point(m.device()))
                        .map(p -> p.atLeast(m.chainId(), m.sequence())).orElse(false));
    }
}

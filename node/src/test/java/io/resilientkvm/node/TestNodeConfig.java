package io.resilientkvm.node;

import io.resilientkvm.engine.instance.NodeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** A node of a three-node resilient instance (node-a, node-b, node-c), as its config file says, with a small VM. */
final class TestNodeConfig {
    static final String TOKEN = "0123456789abcdef0123456789abcdef";

    private TestNodeConfig() {
    }

    /**
     * Writes the parameters, the token and {@code NODE.json} into {@code dir} and loads it.
     *
     * @param extraParams     more instance parameters, e.g. {@code "resiliency-backup-periodicity": "..."}, or ""
     * @param backupServerBind the backup server's {@code bind} and {@code port} members, or ""
     */
    static NodeConfig write(Path dir, String node, String instance, String connect, Duration suspendBound,
            String extraParams, String backupServerBind) throws Exception {
        Path params = Files.writeString(dir.resolve("params.json"), """
                {"-sla-0-computer_guid": "node-a", "-sla-1-computer_guid": "node-b", "-sla-2-computer_guid": "node-c",
                 "ram-size": 256, "cpu-count": 1, "disk-size": 1, "use-nat": false, "use-tap": false%s}
                """.formatted(extraParams.isEmpty() ? "" : ", " + extraParams));
        Path token = io.resilientkvm.engine.secret.TestSecrets.write(dir.resolve("token"), TOKEN);
        return NodeConfig.load(Files.writeString(dir.resolve(node + ".json"), """
                {"node": "%s", "instance": "%s", "data-dir": "%s", "parameters": "%s",
                 "software-type": "kvm-resilient", "vnc": {"listen": "none"},
                 "zookeeper": {"connect": "%s", "base-path": "/rkvm-test", "session-timeout-ms": 8000,
                               "suspend-bound-ms": %d},
                 "backup-server": {%s"token-file": "%s"}}
                """.formatted(node, instance, dir.resolve(node), params, connect, suspendBound.toMillis(),
                backupServerBind.isEmpty() ? "" : backupServerBind + ", ", token)));
    }
}

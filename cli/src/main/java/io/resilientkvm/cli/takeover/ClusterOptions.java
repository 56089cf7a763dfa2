package io.resilientkvm.cli.takeover;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import java.nio.file.Path;
import org.apache.curator.framework.CuratorFramework;
import picocli.CommandLine.Option;

/** {@code --config NODE.json}: the node, and how it reaches its instance in ZooKeeper. */
public final class ClusterOptions {
    // Not required at parse time: "bin/takeover status --config X" gives it to the subcommand only.
    @Option(names = "--config", paramLabel = "NODE.json", description = "this node's configuration (required)")
    Path config;

    private NodeConfig loaded;

    public NodeConfig node() throws BadInputException {
        if (loaded == null) {
            if (config == null) {
                throw new BadInputException("--config: missing; give this node's configuration file (NODE.json)");
            }
            loaded = NodeConfig.load(config);
            if (!loaded.clustered()) {
                throw new BadInputException(config + ": zookeeper.connect is empty; this command needs the instance's ZooKeeper");
            }
        }
        return loaded;
    }

    public ZkLayout layout() throws BadInputException {
        return node().zkLayout();
    }

    /** A new ZooKeeper session; the caller closes it. */
    public CuratorFramework connect() throws BadInputException, OperationFailedException {
        return ZkClients.connect(node().zkSettings());
    }
}

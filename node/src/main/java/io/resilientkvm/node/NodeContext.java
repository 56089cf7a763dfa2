package io.resilientkvm.node;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.params.ParameterFiles;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.schemas.SchemaKind;
import io.resilientkvm.engine.params.InstanceParameters;
import io.resilientkvm.engine.params.ResilientParameters;
import io.resilientkvm.engine.zk.ZkLayout;
import org.apache.curator.framework.CuratorFramework;

/**
 * What every part of a node agent shares: its configuration, the instance parameters, the
 * ZooKeeper session and the instance's ZooKeeper layout.
 */
record NodeContext(NodeConfig config, InstanceParameters params, ResilientParameters resilient, CuratorFramework client,
        ZkLayout layout) {

    /**
     * Loads the resilient parameters of a clustered node and opens its ZooKeeper session; the
     * caller closes {@link #client()}.
     */
    static NodeContext open(NodeConfig config) throws OperatorException {
        if (!config.clustered()) {
            throw new BadInputException("zookeeper.connect: missing in the node config of " + config.node()
                    + "; a resilient node needs ZooKeeper (host:port[,host:port])");
        }
        // Every node, not only the main of today: a clone promoted later serves backups too.
        Advertised.requireAdvertisable(config.backupServer());
        InstanceParameters params = ParameterFiles.load(config.parameters(), SchemaKind.RESILIENT_INSTANCE);
        ResilientParameters resilient = params.resilient().orElseThrow(() -> new BadInputException(
                config.parameters() + ": not resilient parameters"));
        return new NodeContext(config, params, resilient, ZkClients.connect(config.zkSettings()), config.zkLayout());
    }

    String node() {
        return config.node();
    }
}

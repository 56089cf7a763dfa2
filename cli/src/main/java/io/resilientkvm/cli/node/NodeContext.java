package io.resilientkvm.cli.node;

import io.resilientkvm.engine.instance.NodeConfig;
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

    String node() {
        return config.node();
    }
}

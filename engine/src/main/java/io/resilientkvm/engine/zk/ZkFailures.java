package io.resilientkvm.engine.zk;

import io.resilientkvm.engine.error.OperationFailedException;

/** Turns Curator's checked {@code Exception}s into the operator-facing failure, keeping interrupts. */
final class ZkFailures {
    private ZkFailures() {
    }

    static OperationFailedException of(String what, Exception e) {
        if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
        }
        if (e instanceof org.apache.zookeeper.KeeperException.NoAuthException) {
            return new OperationFailedException("ZooKeeper: cannot " + what + ": not allowed by the znode's ACL (NoAuth): check "
                    + "zookeeper.instance-secret-file and zookeeper.node-secret-file in the node config (docs/zookeeper-layout.md)", e);
        }
        return new OperationFailedException("ZooKeeper: cannot " + what + ": " + e.getMessage()
                + " (is ZooKeeper reachable? check zookeeper.connect in the node config)", e);
    }
}

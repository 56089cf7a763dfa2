package io.resilientkvm.takeover.membership;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.zk.ZkLayout;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's ephemeral member znode. Curator's {@link PersistentNode} re-creates it after a
 * new session, so the node stays visible as long as it runs and vanishes when it dies.
 */
public final class Membership implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Membership.class);

    private final PersistentNode node;
    private volatile MemberInfo info;

    private Membership(PersistentNode node, MemberInfo info) {
        this.node = node;
        this.info = info;
    }

    /** Registers {@code info}; waits up to {@code timeoutMillis} for the znode to exist. */
    public static Membership register(CuratorFramework client, ZkLayout layout, MemberInfo info, long timeoutMillis)
            throws OperationFailedException {
        PersistentNode node = new PersistentNode(client, CreateMode.EPHEMERAL, false, layout.memberPath(info.node()), info.toBytes());
        node.start();
        try {
            if (!node.waitForInitialCreate(timeoutMillis, TimeUnit.MILLISECONDS)) {
                closeQuietly(node);
                throw new OperationFailedException("could not register node " + info.node() + " at " + layout.memberPath(info.node())
                        + " within " + timeoutMillis + " ms: is another process running as node " + info.node() + "?");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closeQuietly(node);
            throw new OperationFailedException("interrupted while registering node " + info.node(), e);
        }
        LOG.info("Node {} registered as {} (epoch {})", info.node(), info.role(), info.epoch());
        return new Membership(node, info);
    }

    public MemberInfo info() {
        return info;
    }

    /** Announces a new role or epoch. */
    public void update(MemberInfo newInfo) throws OperationFailedException {
        try {
            node.setData(newInfo.toBytes());
            info = newInfo;
        } catch (Exception e) { // Curator declares Exception
            throw new OperationFailedException("cannot update member znode of " + newInfo.node() + ": " + e.getMessage(), e);
        }
    }

    /** The members currently registered, by node name; unreadable entries are skipped with a warning. */
    public static Map<String, MemberInfo> list(CuratorFramework client, ZkLayout layout) throws OperationFailedException {
        Map<String, MemberInfo> members = new TreeMap<>();
        try {
            for (String child : client.getChildren().forPath(layout.membersPath())) {
                try {
                    members.put(child, MemberInfo.fromBytes(client.getData().forPath(layout.membersPath() + "/" + child)));
                } catch (KeeperException.NoNodeException gone) {
                    // left while we listed
                } catch (IOException e) {
                    LOG.warn("Ignoring member {}: {}", child, e.getMessage());
                }
            }
        } catch (KeeperException.NoNodeException none) {
            return members;
        } catch (Exception e) {
            throw new OperationFailedException("cannot list members at " + layout.membersPath() + ": " + e.getMessage(), e);
        }
        return members;
    }

    @Override
    public void close() {
        closeQuietly(node);
    }

    private static void closeQuietly(PersistentNode node) {
        try {
            node.close();
        } catch (IOException | RuntimeException e) {
            LOG.debug("closing member znode failed", e);
        }
    }
}

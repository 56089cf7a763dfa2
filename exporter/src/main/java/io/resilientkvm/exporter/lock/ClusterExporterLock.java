package io.resilientkvm.exporter.lock;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.concurrent.TimeUnit;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.StandardLockInternalsDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One exporter per instance across the cluster: a Curator {@link InterProcessMutex} at
 * {@code ZkLayout.exporterLockPath()}, taken besides the repository's file lock when the node runs
 * clustered (the file lock only sees exporters on the same file system). The lock node's data
 * names the holder (node, pid, host, since), so a refused exporter can say who holds it. The
 * client is the caller's (except with {@link #forNode}); closing releases the mutex.
 */
public final class ClusterExporterLock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterExporterLock.class);
    /** How long a second exporter waits before it is refused. */
    public static final Duration DEFAULT_ACQUIRE_TIMEOUT = Duration.ofSeconds(10);

    private final String path;
    private final InterProcessMutex mutex;
    private CuratorFramework ownedClient;

    private ClusterExporterLock(String path, InterProcessMutex mutex) {
        this.path = path;
        this.mutex = mutex;
    }

    /**
     * For a clustered node ({@code zookeeper.connect} set): connects its own client and takes
     * the instance's exporter lock; closing releases both. Empty for a stand-alone node.
     */
    public static java.util.Optional<ClusterExporterLock> forNode(NodeConfig node, Duration timeout)
            throws OperatorException {
        if (!node.clustered()) {
            return java.util.Optional.empty();
        }
        ZkLayout layout = node.zkLayout();
        CuratorFramework client = ZkClients.connect(node.zkSettings());
        try {
            ClusterExporterLock lock = acquire(client, layout.exporterLockPath(), node.node(), timeout);
            lock.ownedClient = client;
            return java.util.Optional.of(lock);
        } catch (OperatorException | RuntimeException e) {
            client.close();
            throw e;
        }
    }

    /**
     * Takes the mutex, waiting at most {@code timeout}.
     *
     * @param node the node name recorded as holder
     * @throws RefusedException         another exporter holds it (the message names it)
     * @throws OperationFailedException ZooKeeper failed
     */
    public static ClusterExporterLock acquire(CuratorFramework client, String path, String node, Duration timeout)
            throws OperatorException {
        byte[] me = ("node=" + node + " pid=" + ProcessHandle.current().pid() + " host=" + host() + " since="
                + Instant.now()).getBytes(StandardCharsets.UTF_8);
        // The standard driver creates the lock node with the client's default data; ours names us.
        InterProcessMutex mutex = new InterProcessMutex(client, path, new StandardLockInternalsDriver() {
            @Override
            public String createsTheLock(CuratorFramework c, String p, byte[] lockNodeBytes) throws Exception {
                return super.createsTheLock(c, p, me);
            }
        });
        boolean acquired;
        try {
            acquired = mutex.acquire(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OperationFailedException("interrupted while taking the exporter lock " + path, e);
        } catch (Exception e) {
            throw new OperationFailedException("cannot take the exporter lock " + path + " in ZooKeeper: "
                    + e.getMessage() + " (check zookeeper.connect in the node configuration)", e);
        }
        if (!acquired) {
            throw new RefusedException("another exporter of this instance holds the cluster lock " + path + " ("
                    + holder(client, mutex) + "); one exporter per VM: stop it first");
        }
        LOG.info("cluster exporter lock {} taken", path);
        return new ClusterExporterLock(path, mutex);
    }

    /** The first participant holds the lock; its node's data says who it is. */
    private static String holder(CuratorFramework client, InterProcessMutex mutex) {
        try {
            Collection<String> nodes = mutex.getParticipantNodes();
            if (nodes.isEmpty()) {
                return "holder gone meanwhile; try again";
            }
            byte[] data = client.getData().forPath(nodes.iterator().next());
            String text = data == null ? "" : new String(data, StandardCharsets.UTF_8).strip();
            return text.startsWith("node=") ? "held by " + text : "holder unknown";
        } catch (Exception e) {
            return "holder unreadable: " + e.getMessage();
        }
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "unknown-host";
        }
    }

    public String path() {
        return path;
    }

    /** Releases the mutex (its node is deleted); a client of {@link #forNode} is closed too. */
    @Override
    public void close() {
        try {
            release();
        } finally {
            if (ownedClient != null) {
                ownedClient.close();
                ownedClient = null;
            }
        }
    }

    private void release() {
        try {
            if (mutex.isAcquiredInThisProcess()) {
                mutex.release();
                LOG.info("cluster exporter lock {} released", path);
            }
        } catch (Exception e) {
            // The session's end removes the ephemeral node anyway.
            LOG.warn("releasing the exporter lock {}: {}", path, e.getMessage());
        }
    }
}

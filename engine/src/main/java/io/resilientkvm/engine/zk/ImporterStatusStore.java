package io.resilientkvm.engine.zk;

import io.resilientkvm.engine.error.OperationFailedException;
import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The clones' {@link ImporterStatus} nodes under {@code importers/}. */
public final class ImporterStatusStore {
    private static final Logger LOG = LoggerFactory.getLogger(ImporterStatusStore.class);

    private final CuratorFramework client;
    private final ZkLayout layout;

    public ImporterStatusStore(CuratorFramework client, ZkLayout layout) {
        this.client = client;
        this.layout = layout;
    }

    /** Writes this clone's status (persistent: a stopped clone's lag stays visible). */
    public void write(ImporterStatus status) throws OperationFailedException {
        String path = layout.importerPath(status.node());
        try {
            client.create().orSetData().creatingParentsIfNeeded().forPath(path, status.toBytes());
        } catch (Exception e) {
            throw ZkFailures.of("write importer status at " + path, e);
        }
    }

    public Optional<ImporterStatus> read(String node) throws OperationFailedException {
        String path = layout.importerPath(node);
        try {
            return Optional.of(ImporterStatus.fromBytes(client.getData().forPath(path), "znode " + path));
        } catch (KeeperException.NoNodeException none) {
            return Optional.empty();
        } catch (IOException e) {
            LOG.warn("Ignoring importer status: {}", e.getMessage());
            return Optional.empty();
        } catch (Exception e) {
            throw ZkFailures.of("read importer status at " + path, e);
        }
    }

    /** Every clone's status, by node name. */
    public Map<String, ImporterStatus> all() throws OperationFailedException {
        Map<String, ImporterStatus> all = new TreeMap<>();
        try {
            for (String node : client.getChildren().forPath(layout.importersPath())) {
                read(node).ifPresent(s -> all.put(node, s));
            }
        } catch (KeeperException.NoNodeException none) {
            return all;
        } catch (OperationFailedException e) {
            throw e;
        } catch (Exception e) {
            throw ZkFailures.of("list " + layout.importersPath(), e);
        }
        return all;
    }
}

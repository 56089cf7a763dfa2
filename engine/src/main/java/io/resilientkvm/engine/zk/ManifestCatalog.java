package io.resilientkvm.engine.zk;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backups the main published in ZooKeeper, under
 * {@code manifests/DEVICE/CHAIN/SEQ} (see docs/zookeeper-layout.md). The main publishes each
 * completed backup's manifest under its epoch, so a replaced main cannot publish any more;
 * clones list them to know what to import and how far behind they are.
 */
public final class ManifestCatalog {
    private static final Logger LOG = LoggerFactory.getLogger(ManifestCatalog.class);
    /** Orders backups as they were made: by device, then chain (a time stamp), then sequence. */
    public static final Comparator<BackupManifest> ORDER = Comparator.comparing(BackupManifest::device)
            .thenComparing(BackupManifest::chainId).thenComparingInt(BackupManifest::sequence);

    private final CuratorFramework client;
    private final ZkLayout layout;
    private final EpochStore epochs;

    public ManifestCatalog(CuratorFramework client, ZkLayout layout) {
        this.client = client;
        this.layout = layout;
        this.epochs = new EpochStore(client, layout);
    }

    public ZkLayout layout() {
        return layout;
    }

    /**
     * Publishes a completed backup, only if {@code mine} is still the current epoch and the
     * manifest carries it. Publishing the same manifest twice is a no-op.
     *
     * @throws RefusedException when this node is no longer the main, or the manifest's epoch is not {@code mine}
     */
    public void publish(Epoch mine, BackupManifest manifest) throws RefusedException, OperationFailedException {
        if (manifest.epoch() != mine.number()) {
            throw new RefusedException("manifest " + manifest.file() + " carries epoch " + manifest.epoch()
                    + " but this main holds epoch " + mine.number() + "; it is not published");
        }
        String path = layout.manifestPath(manifest.device(), manifest.chainId(), manifest.sequence());
        String parent = path.substring(0, path.lastIndexOf('/'));
        try {
            // The parents are empty folders: creating them outside the epoch check is harmless.
            client.create().orSetData().creatingParentsIfNeeded().forPath(parent);
            if (client.checkExists().forPath(path) != null) {
                LOG.debug("manifest {} already published", path);
                return;
            }
            CuratorOp create = client.transactionOp().create()
                    .forPath(path, manifest.toJson().getBytes(StandardCharsets.UTF_8));
            epochs.writeUnderEpoch(mine, List.of(create));
        } catch (RefusedException | OperationFailedException e) {
            throw e;
        } catch (Exception e) { // Curator declares Exception
            throw ZkFailures.of("publish manifest " + manifest.file() + " at " + path, e);
        }
        LOG.info("Published {} {}/{} #{} (epoch {})", manifest.level(), manifest.device(), manifest.chainId(),
                manifest.sequence(), mine.number());
    }

    /** True when this backup's manifest is in the catalog (one ZooKeeper read). */
    public boolean isPublished(BackupManifest manifest) throws OperationFailedException {
        String path = layout.manifestPath(manifest.device(), manifest.chainId(), manifest.sequence());
        try {
            return client.checkExists().forPath(path) != null;
        } catch (Exception e) { // Curator declares Exception
            throw ZkFailures.of("look up manifest " + manifest.file() + " at " + path, e);
        }
    }

    /** Every published manifest, in backup order; an unreadable one is skipped with a warning. */
    public List<BackupManifest> list() throws OperationFailedException {
        List<BackupManifest> all = new ArrayList<>();
        for (String device : children(layout.manifestsPath())) {
            for (String chain : children(layout.manifestsPath() + "/" + device)) {
                String chainPath = layout.manifestsPath() + "/" + device + "/" + chain;
                for (String seq : children(chainPath)) {
                    read(chainPath + "/" + seq).ifPresent(all::add);
                }
            }
        }
        all.sort(ORDER);
        return all;
    }

    /** The newest published backup of each device, in device order. */
    public List<BackupManifest> newestPerDevice() throws OperationFailedException {
        List<BackupManifest> all = list();
        List<BackupManifest> newest = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            if (i == all.size() - 1 || !all.get(i + 1).device().equals(all.get(i).device())) {
                newest.add(all.get(i));
            }
        }
        return newest;
    }

    /** Removes a whole chain's manifests (after it left the main's repository), under the main's epoch. */
    public void removeChain(Epoch mine, String device, String chainId) throws RefusedException, OperationFailedException {
        String chainPath = layout.manifestsPath() + "/" + ZkLayout.requireName("device", device) + "/"
                + ZkLayout.requireName("chain", chainId);
        try {
            List<CuratorOp> ops = new ArrayList<>();
            for (String seq : children(chainPath)) {
                ops.add(client.transactionOp().delete().forPath(chainPath + "/" + seq));
            }
            if (client.checkExists().forPath(chainPath) != null) {
                ops.add(client.transactionOp().delete().forPath(chainPath));
            }
            if (!ops.isEmpty()) {
                epochs.writeUnderEpoch(mine, ops);
            }
        } catch (RefusedException | OperationFailedException e) {
            throw e;
        } catch (Exception e) {
            throw ZkFailures.of("remove chain " + device + "/" + chainId + " from " + chainPath, e);
        }
    }

    private Optional<BackupManifest> read(String path) throws OperationFailedException {
        try {
            byte[] data = client.getData().forPath(path);
            return Optional.of(BackupManifest.parse(new String(data, StandardCharsets.UTF_8), "znode " + path));
        } catch (KeeperException.NoNodeException gone) {
            return Optional.empty();
        } catch (BadInputException e) {
            LOG.warn("Ignoring published manifest: {}", e.getMessage());
            return Optional.empty();
        } catch (Exception e) {
            throw ZkFailures.of("read " + path, e);
        }
    }

    private List<String> children(String path) throws OperationFailedException {
        try {
            return client.getChildren().forPath(path).stream().sorted().toList();
        } catch (KeeperException.NoNodeException none) {
            return List.of();
        } catch (Exception e) {
            throw ZkFailures.of("list " + path, e);
        }
    }
}

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

    /** Most znodes one publication or removal transaction writes (ZooKeeper bounds a request to about 1 MB). */
    static final int REMOVE_BATCH = 500;
    private static final com.fasterxml.jackson.databind.ObjectMapper HEAD = new com.fasterxml.jackson.databind.ObjectMapper();

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
            // The device's head in the same transaction: its data version moves with every
            // publication, so a clone's CatalogView sees in one read whether the device changed.
            CuratorOp head = client.transactionOp().setData().forPath(devicePath(manifest.device()),
                    head(manifest, List.of(manifest.chainId())));
            epochs.writeUnderEpoch(mine, List.of(create, head));
        } catch (RefusedException | OperationFailedException e) {
            throw e;
        } catch (Exception e) { // Curator declares Exception
            throw ZkFailures.of("publish manifest " + manifest.file() + " at " + path, e);
        }
        LOG.info("Published {} {}/{} #{} (epoch {})", manifest.level(), manifest.device(), manifest.chainId(),
                manifest.sequence(), mine.number());
    }

    /**
     * Publishes many manifests (a main catching up on what it left unpublished, a bench), in
     * epoch-checked transactions of at most {@value #REMOVE_BATCH} manifests plus their devices'
     * heads; those already published are skipped.
     *
     * @throws RefusedException when this node is no longer the main, or a manifest's epoch is not {@code mine}
     */
    public void publishAll(Epoch mine, List<BackupManifest> manifests) throws RefusedException, OperationFailedException {
        for (BackupManifest m : manifests) {
            if (m.epoch() != mine.number()) {
                throw new RefusedException("manifest " + m.file() + " carries epoch " + m.epoch()
                        + " but this main holds epoch " + mine.number() + "; nothing was published");
            }
        }
        List<BackupManifest> todo = new ArrayList<>();
        java.util.Map<String, java.util.Set<String>> present = new java.util.HashMap<>();
        try {
            for (BackupManifest m : manifests.stream().sorted(ORDER).toList()) {
                String path = layout.manifestPath(m.device(), m.chainId(), m.sequence());
                String parent = path.substring(0, path.lastIndexOf('/'));
                if (!present.containsKey(parent)) {
                    client.create().orSetData().creatingParentsIfNeeded().forPath(parent);
                    present.put(parent, new java.util.HashSet<>(children(parent)));
                }
                if (!present.get(parent).contains(path.substring(path.lastIndexOf('/') + 1))) {
                    todo.add(m);
                }
            }
            for (int from = 0; from < todo.size(); from += REMOVE_BATCH) {
                List<BackupManifest> batch = todo.subList(from, Math.min(todo.size(), from + REMOVE_BATCH));
                List<CuratorOp> ops = new ArrayList<>();
                java.util.Map<String, BackupManifest> heads = new java.util.TreeMap<>();
                java.util.Map<String, java.util.Set<String>> written = new java.util.TreeMap<>();
                for (BackupManifest m : batch) {
                    ops.add(client.transactionOp().create().forPath(layout.manifestPath(m.device(), m.chainId(),
                            m.sequence()), m.toJson().getBytes(StandardCharsets.UTF_8)));
                    heads.put(m.device(), m); // sorted: the last one of a device is its newest
                    written.computeIfAbsent(m.device(), d -> new java.util.TreeSet<>()).add(m.chainId());
                }
                for (BackupManifest m : heads.values()) {
                    ops.add(client.transactionOp().setData().forPath(devicePath(m.device()),
                            head(m, written.get(m.device()))));
                }
                epochs.writeUnderEpoch(mine, ops);
            }
        } catch (RefusedException | OperationFailedException e) {
            throw e;
        } catch (Exception e) { // Curator declares Exception
            throw ZkFailures.of("publish " + todo.size() + " manifests", e);
        }
        LOG.info("Published {} manifests (epoch {}), {} already there", todo.size(), mine.number(),
                manifests.size() - todo.size());
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
                    read(client, chainPath + "/" + seq).ifPresent(all::add);
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

    /**
     * Removes a whole chain's manifests, under the main's epoch, newest first and in transactions
     * of at most {@value #REMOVE_BATCH} znodes (a chain of a day at a 5 s cadence would exceed
     * ZooKeeper's request size in one): what an interruption leaves is still a chain's prefix,
     * and the next removal finishes it.
     */
    public void removeChain(Epoch mine, String device, String chainId) throws RefusedException, OperationFailedException {
        String chainPath = devicePath(device) + "/" + ZkLayout.requireName("chain", chainId);
        try {
            List<String> seqs = new ArrayList<>(children(chainPath));
            java.util.Collections.reverse(seqs);
            for (int from = 0; from < seqs.size(); from += REMOVE_BATCH) {
                List<CuratorOp> ops = new ArrayList<>();
                for (String seq : seqs.subList(from, Math.min(seqs.size(), from + REMOVE_BATCH))) {
                    ops.add(client.transactionOp().delete().forPath(chainPath + "/" + seq));
                }
                epochs.writeUnderEpoch(mine, ops);
            }
            if (client.checkExists().forPath(chainPath) != null) {
                epochs.writeUnderEpoch(mine, List.of(client.transactionOp().delete().forPath(chainPath)));
            }
            LOG.info("Removed chain {}/{} from the catalog ({} manifests, epoch {})", device, chainId, seqs.size(),
                    mine.number());
        } catch (RefusedException | OperationFailedException e) {
            throw e;
        } catch (Exception e) {
            throw ZkFailures.of("remove chain " + device + "/" + chainId + " from " + chainPath, e);
        }
    }

    /** The znode of a device's chains; its data is the head, {@code {"format-version":1,"chain","sequence","file"}}. */
    String devicePath(String device) {
        return layout.manifestsPath() + "/" + ZkLayout.requireName("device", device);
    }

    /** The head after a transaction that wrote {@code chains} of {@code newest}'s device. */
    private static byte[] head(BackupManifest newest, java.util.Collection<String> chains) {
        com.fasterxml.jackson.databind.node.ObjectNode o = HEAD.createObjectNode().put("format-version", 1)
                .put("chain", newest.chainId()).put("sequence", newest.sequence()).put("file", newest.file());
        chains.forEach(o.putArray("written")::add);
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The chains a head says its transaction wrote; empty when it does not say (then a reader lists every chain). */
    static List<String> headChains(byte[] head) {
        try {
            com.fasterxml.jackson.databind.JsonNode o = HEAD.readTree(head);
            if (o == null || o.path("format-version").asInt() != 1 || !o.path("written").isArray()) {
                return List.of();
            }
            List<String> chains = new ArrayList<>();
            for (com.fasterxml.jackson.databind.JsonNode c : o.path("written")) {
                chains.add(ZkLayout.requireName("chain", c.asText()));
            }
            return chains;
        } catch (java.io.IOException | IllegalArgumentException e) {
            return List.of();
        }
    }

    /** The manifest at {@code path}; empty when it is gone or unreadable (warned). */
    static Optional<BackupManifest> read(CuratorFramework client, String path) throws OperationFailedException {
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

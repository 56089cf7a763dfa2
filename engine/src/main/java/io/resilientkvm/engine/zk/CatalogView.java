package io.resilientkvm.engine.zk;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.OperationFailedException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

/**
 * A process's copy of the {@link ManifestCatalog} that reads only what changed since its last
 * {@link #refresh()}: one listing of the devices and one read of each device's head (with its
 * Stat). Only when a device's znode changed does it read more: after exactly one publication
 * (data version one up: every publication sets the head, naming the chains it wrote, in its
 * transaction) one listing per chain the head names; after a chain was created or removed (child
 * version) or several publications, one listing per chain; and one read per manifest not seen
 * before. Each manifest is parsed and validated once per view. So a steady-state refresh costs
 * {@code 1 + devices} reads, and one after a backup {@code 1 + devices + 2}, whatever the
 * history's length.
 *
 * <p>Not thread-safe beyond its own lock: one importer thread (or the main's schedule) uses it.
 */
public final class CatalogView {
    /** A chain znode as last seen: its creation (a re-created chain is another one) and children. */
    private record ChainState(long czxid, int cversion, Map<String, Optional<BackupManifest>> bySeq) {}

    private record DeviceState(long czxid, int version, int cversion, Map<String, ChainState> chains) {}

    private final CuratorFramework client;
    private final ZkLayout layout;
    private final Map<String, DeviceState> devices = new TreeMap<>();
    private final AtomicLong reads = new AtomicLong();
    /** The last list returned and the device states it was built from. */
    private List<BackupManifest> last;
    private Map<String, DeviceState> lastDevices;

    public CatalogView(CuratorFramework client, ZkLayout layout) {
        this.client = client;
        this.layout = layout;
    }

    /** ZooKeeper reads this view made so far (listings and data reads). */
    public long reads() {
        return reads.get();
    }

    /**
     * Every published manifest, in backup order, reading only what changed; an unreadable one is
     * skipped (warned once). When nothing changed it returns the very list it returned last.
     */
    public synchronized List<BackupManifest> refresh() throws OperationFailedException {
        String root = layout.manifestsPath();
        List<String> names = children(root, null);
        devices.keySet().retainAll(names);
        for (String device : names) {
            String devicePath = root + "/" + device;
            Stat stat = new Stat();
            Optional<byte[]> head = data(devicePath, stat);
            DeviceState before = devices.get(device);
            if (head.isEmpty()) {
                devices.remove(device); // gone between the two reads
            } else if (before == null || before.czxid() != stat.getCzxid() || before.cversion() != stat.getCversion()
                    || before.version() + 1 < stat.getVersion()) {
                // New, re-created, a chain created or removed, or several publications since: every chain.
                devices.put(device, new DeviceState(stat.getCzxid(), stat.getVersion(), stat.getCversion(),
                        refreshChains(devicePath, children(devicePath, null), before == null ? Map.of() : before.chains())));
            } else if (before.version() != stat.getVersion()) {
                // Exactly one publication: only the chains its head names.
                Map<String, ChainState> chains = new TreeMap<>(before.chains());
                List<String> touched = ManifestCatalog.headChains(head.get());
                if (touched.isEmpty()) {
                    touched = children(devicePath, null); // a head of an older version: every chain
                }
                chains.putAll(refreshChains(devicePath, touched, before.chains()));
                devices.put(device, new DeviceState(stat.getCzxid(), stat.getVersion(), stat.getCversion(), chains));
            }
        }
        if (last != null && sameStates()) {
            return last; // nothing changed: the same list, not sorted again
        }
        List<BackupManifest> all = new ArrayList<>();
        for (DeviceState d : devices.values()) {
            for (ChainState c : d.chains().values()) {
                c.bySeq().values().forEach(m -> m.ifPresent(all::add));
            }
        }
        all.sort(ManifestCatalog.ORDER);
        last = List.copyOf(all);
        lastDevices = new TreeMap<>(devices);
        return last;
    }

    private Map<String, ChainState> refreshChains(String devicePath, List<String> chains, Map<String, ChainState> before)
            throws OperationFailedException {
        Map<String, ChainState> now = new TreeMap<>();
        for (String chain : chains) {
            String chainPath = devicePath + "/" + chain;
            Stat stat = new Stat();
            List<String> seqs = children(chainPath, stat);
            if (stat.getCzxid() == 0) {
                continue;
            }
            ChainState old = before.get(chain);
            if (old != null && old.czxid() == stat.getCzxid() && old.cversion() == stat.getCversion()) {
                now.put(chain, old);
                continue;
            }
            Map<String, Optional<BackupManifest>> known = old != null && old.czxid() == stat.getCzxid()
                    ? old.bySeq() : Map.of();
            Map<String, Optional<BackupManifest>> bySeq = new HashMap<>();
            for (String seq : seqs) {
                Optional<BackupManifest> m = known.get(seq);
                bySeq.put(seq, m != null ? m : read(chainPath + "/" + seq));
            }
            now.put(chain, new ChainState(stat.getCzxid(), stat.getCversion(), bySeq));
        }
        return now;
    }

    private Optional<BackupManifest> read(String path) throws OperationFailedException {
        reads.incrementAndGet();
        return ManifestCatalog.read(client, path);
    }

    /** True when every device keeps the very state the last list was built from (a changed one is a new instance). */
    private boolean sameStates() {
        if (!devices.keySet().equals(lastDevices.keySet())) {
            return false;
        }
        return devices.entrySet().stream().allMatch(e -> e.getValue() == lastDevices.get(e.getKey()));
    }

    /** The data of {@code path} and its Stat, or empty when it is gone. */
    private Optional<byte[]> data(String path, Stat stat) throws OperationFailedException {
        reads.incrementAndGet();
        try {
            return Optional.of(client.getData().storingStatIn(stat).forPath(path));
        } catch (KeeperException.NoNodeException gone) {
            return Optional.empty();
        } catch (Exception e) { // Curator declares Exception
            throw ZkFailures.of("read " + path, e);
        }
    }

    /** The sorted children of {@code path} (none when it is gone), its Stat into {@code stat} when given. */
    private List<String> children(String path, Stat stat) throws OperationFailedException {
        reads.incrementAndGet();
        try {
            List<String> names = stat == null ? client.getChildren().forPath(path)
                    : client.getChildren().storingStatIn(stat).forPath(path);
            return names.stream().sorted().toList();
        } catch (KeeperException.NoNodeException none) {
            return List.of();
        } catch (Exception e) { // Curator declares Exception
            throw ZkFailures.of("list " + path, e);
        }
    }
}

package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.backup.BackupManifest;
import org.apache.curator.test.TestingServer;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;

/**
 * A real embedded ZooKeeper and one Curator client per node: node-a (the main of epoch 0),
 * clone1 and clone2. Each instance name is a fresh cluster state.
 */
final class ZkCluster implements AutoCloseable {
    final TestingServer zk;
    final CuratorFramework main;
    final CuratorFramework clone1;
    final CuratorFramework clone2;
    private final List<AutoCloseable> open = new ArrayList<>();

    ZkCluster(Path dir) throws Exception {
        zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
        main = ZkClients.connect(ZkSettings.of(zk.getConnectString()));
        clone1 = ZkClients.connect(ZkSettings.of(zk.getConnectString()));
        clone2 = ZkClients.connect(ZkSettings.of(zk.getConnectString()));
    }

    CuratorFramework client(String node) {
        return switch (node) {
            case "node-a" -> main;
            case "clone1" -> clone1;
            case "clone2" -> clone2;
            default -> throw new IllegalArgumentException(node);
        };
    }

    /**
     * Sets up {@code instance}: epoch 0 owned by node-a, which published #0..#{@code published}
     * of virtio0; clone1 and clone2 hold the given points (negative: no status).
     */
    Epoch setUp(ZkLayout layout, int published, int clone1Holds, int clone2Holds) throws Exception {
        Epoch zero = new EpochStore(main, layout).initialize("node-a");
        ManifestCatalog catalog = new ManifestCatalog(main, layout);
        for (BackupManifest m : Fixtures.chain("virtio0", published, 0)) {
            catalog.publish(zero, m);
        }
        if (clone1Holds >= 0) {
            writeStatus(layout, "clone1", 0, clone1Holds);
        }
        if (clone2Holds >= 0) {
            writeStatus(layout, "clone2", 0, clone2Holds);
        }
        return zero;
    }

    void writeStatus(ZkLayout layout, String node, long epoch, int holds) throws Exception {
        ImporterStatus s = Fixtures.status(node, epoch, Fixtures.point("virtio0", holds));
        new ImporterStatusStore(client(node), layout).write(s);
    }

    Membership register(ZkLayout layout, String node, Role role, long epoch) throws Exception {
        Membership m = Membership.register(client(node), layout, Fixtures.member(node, role, epoch), 10_000);
        open.add(m);
        return m;
    }

    @Override
    public void close() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
        clone2.close();
        clone1.close();
        main.close();
        zk.close();
    }
}

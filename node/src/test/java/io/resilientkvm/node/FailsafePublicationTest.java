package io.resilientkvm.node;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.BackupResult;
import io.resilientkvm.exporter.Exporter;
import io.resilientkvm.node.zk.EmbeddedZooKeeper;
import java.nio.file.Path;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backups a main took while cut from ZooKeeper in fail-safe mode (kept unpublished: their
 * publication failed) are published in backup order once ZooKeeper is back, and only once.
 * Real QEMU backups; the outage is the absence of publication (the watcher-level outage is
 * tested in takeover's FailsafeWatcherTest).
 */
class FailsafePublicationTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void theBackupsOfAnOutageArePublishedInOrderOnceAndNothingElse() throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-test", "failsafe-pub");
        Path repo = dir.resolve("backup");
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0);
                CuratorFramework client = ZkClients.connect(ZkSettings.of(zk.connectString()));
                TestVm vm = TestVm.builder(dir).disk("virtio0", TestVm.blankQcow2(dir.resolve("d.qcow2"), 16 * MIB))
                        .running(true).start()) {
            Epoch epoch = new EpochStore(client, layout).initialize("main");
            ManifestCatalog catalog = new ManifestCatalog(client, layout);
            BackupRequest req = BackupRequest.of(null, repo).withEpoch(epoch.number());
            BackupResult full = MainRole.publish(catalog, epoch, repo, Exporter.backup(req, vm.qmp()));
            assertEquals(0, FailsafePublication.publishPending(catalog, epoch, repo), "nothing pending while connected");
            vm.write("virtio0", 0x41, 0, MIB);
            BackupResult during1 = Exporter.backup(req, vm.qmp()); // ZooKeeper out of reach: kept
            vm.write("virtio0", 0x42, MIB, MIB);
            BackupResult during2 = Exporter.backup(req, vm.qmp());

            assertEquals(2, FailsafePublication.publishPending(catalog, epoch, repo));
            List<BackupManifest> expected = List.of(full.backups().get(0).manifest(), during1.backups().get(0).manifest(),
                    during2.backups().get(0).manifest());
            assertEquals(expected.stream().map(BackupManifest::file).toList(),
                    catalog.list().stream().map(BackupManifest::file).toList());
            assertEquals(0, FailsafePublication.publishPending(catalog, epoch, repo), "published once");
        }
    }
}

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
 * A main agent killed between a backup's manifest and its publication leaves a backup the
 * catalog lacks; the next scheduled backup of that chain publishes it first, so the clones
 * get every link. (The state the kill leaves is made here by not publishing that backup.)
 */
class MainRolePublishTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    @Test
    void theNextBackupPublishesWhatAnInterruptedRunLeftUnpublished() throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-test", "pub");
        Path repo = dir.resolve("backup");
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0);
                CuratorFramework client = ZkClients.connect(ZkSettings.of(zk.connectString()));
                TestVm vm = TestVm.builder(dir).disk("virtio0", TestVm.blankQcow2(dir.resolve("d.qcow2"), 16 * MIB))
                        .running(true).start()) {
            Epoch epoch = new EpochStore(client, layout).initialize("main");
            ManifestCatalog catalog = new ManifestCatalog(client, layout);
            BackupRequest req = BackupRequest.of(null, repo).withEpoch(epoch.number());
            BackupResult full = MainRole.publish(catalog, epoch, repo, Exporter.backup(req, vm.qmp()));
            vm.write("virtio0", 0x41, 0, MIB);
            BackupResult lost = Exporter.backup(req, vm.qmp()); // its agent died before publishing it
            vm.write("virtio0", 0x42, MIB, MIB);
            BackupResult next = MainRole.publish(catalog, epoch, repo, Exporter.backup(req, vm.qmp()));

            List<BackupManifest> expected = List.of(full.backups().get(0).manifest(), lost.backups().get(0).manifest(),
                    next.backups().get(0).manifest());
            assertEquals(List.of(0, 1, 2), expected.stream().map(BackupManifest::sequence).toList());
            assertEquals(expected.stream().map(BackupManifest::file).toList(),
                    catalog.list().stream().map(BackupManifest::file).toList());
        }
    }
}

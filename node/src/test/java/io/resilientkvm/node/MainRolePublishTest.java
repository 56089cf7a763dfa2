package io.resilientkvm.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.RetryPolicy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A main agent killed between a backup's manifest and its publication leaves a backup the
 * catalog lacks; the next scheduled backup of that chain publishes it first, so the clones
 * get every link. (The state the kill leaves is made here by not publishing that backup.) And
 * what a fail-safe outage left unpublished is published once ZooKeeper is back.
 */
class MainRolePublishTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    /** What a test does with a running VM, a main's epoch 0 and its catalog on a real ZooKeeper. */
    @FunctionalInterface
    private interface WithMain {
        void run(TestVm vm, ManifestCatalog catalog, Epoch epoch, BackupRequest req, Path repo) throws Exception;
    }

    private void withMain(String instance, WithMain test) throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-test", instance);
        Path repo = dir.resolve("backup");
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0);
                CuratorFramework client = ZkClients.connect(ZkSettings.of(zk.connectString()));
                TestVm vm = TestVm.builder(dir).disk("virtio0", TestVm.blankQcow2(dir.resolve("d.qcow2"), 16 * MIB))
                        .running(true).start()) {
            Epoch epoch = new EpochStore(client, layout).initialize("main");
            test.run(vm, new ManifestCatalog(client, layout), epoch, BackupRequest.of(null, repo).withEpoch(epoch.number()), repo);
        }
    }

    @Test
    void theNextBackupPublishesWhatAnInterruptedRunLeftUnpublished() throws Exception {
        withMain("pub", (vm, catalog, epoch, req, repo) -> {
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
        });
    }

    /**
     * Backups a main took while cut from ZooKeeper in fail-safe mode (kept unpublished: their
     * publication failed) are published in backup order once ZooKeeper is back, and only once.
     * The outage is the absence of publication here; FailsafeOutageIT has the real one.
     */
    @Test
    void theBackupsOfAFailsafeOutageArePublishedInOrderOnceAndNothingElse() throws Exception {
        withMain("failsafe-pub", (vm, catalog, epoch, req, repo) -> {
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
        });
    }

    /**
     * Cut from ZooKeeper with every clone vouching, a new backup is kept without a publication
     * tried: on a cut client that publication blocks in Curator's retries until ZooKeeper is back,
     * and the schedule starts no other backup meanwhile (PartitionsOnBedIT saw one backup in a
     * 12 s cut at one every 5 s). The catalog here is on a client without a server that counts
     * every operation it would retry; the kept backup is then published by the catch-up. Vouched
     * for no longer, a backup is published at once.
     */
    @Test
    void cutAndVouchedForANewBackupIsKeptWithoutTryingZooKeeperThenPublishedByTheCatchUp() throws Exception {
        withMain("failsafe-keep", (vm, catalog, epoch, req, repo) -> {
            MainRole.publish(catalog, epoch, repo, Exporter.backup(req, vm.qmp()));
            vm.write("virtio0", 0x41, 0, MIB);
            BackupResult during = Exporter.backup(req, vm.qmp());
            // A client with no server (port 1 refuses at once) counting what it would retry: any attempt counts.
            AtomicInteger attempts = new AtomicInteger();
            RetryPolicy counting = (retryCount, elapsedMs, sleeper) -> {
                attempts.incrementAndGet();
                return false;
            };
            try (CuratorFramework cutClient = CuratorFrameworkFactory.builder().connectString("127.0.0.1:1")
                    .connectionTimeoutMs(200).sessionTimeoutMs(2000).retryPolicy(counting).build()) {
                cutClient.start();
                ManifestCatalog cut = new ManifestCatalog(cutClient, new ZkLayout("/rkvm-test", "failsafe-keep"));
                assertFalse(MainRole.publishOrKeep(cut, epoch, repo, during, () -> true), "kept");
            }
            assertEquals(0, attempts.get(), "no ZooKeeper operation tried while cut and vouched for");
            assertEquals(1, catalog.list().size(), "not published while cut");
            assertEquals(1, FailsafePublication.publishPending(catalog, epoch, repo), "published by the catch-up");

            vm.write("virtio0", 0x42, MIB, MIB);
            BackupResult after = Exporter.backup(req, vm.qmp());
            assertTrue(MainRole.publishOrKeep(catalog, epoch, repo, after, () -> false), "published");
            assertEquals(List.of(0, 1, 2), catalog.list().stream().map(BackupManifest::sequence).toList());
        });
    }
}

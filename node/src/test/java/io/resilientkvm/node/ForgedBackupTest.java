package io.resilientkvm.node;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.params.InstanceParameters;
import io.resilientkvm.engine.params.ParameterFiles;
import io.resilientkvm.engine.testing.ForgedImage;
import io.resilientkvm.engine.testing.Forgery;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.exporter.server.BackupServer;
import io.resilientkvm.exporter.server.BackupServerSettings;
import io.resilientkvm.importer.restore.Holds;
import io.resilientkvm.importer.service.ImportRound;
import io.resilientkvm.importer.service.ImporterService;
import io.resilientkvm.importer.testing.TestRepository;
import io.resilientkvm.importer.testing.TestRepository.Point;
import io.resilientkvm.importer.transfer.BackupFetcher;
import io.resilientkvm.importer.transfer.TransferSettings;
import io.resilientkvm.schemas.SchemaKind;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Forged incrementals (rewritten after the backup, their manifests' size and SHA-256 recomputed
 * to match) reach a clone through its real importer (ZooKeeper, backup server, fetcher), and a
 * promotion restores from a clone's repository holding one. Both refuse, naming the file and what
 * it referred to. The host file a forgery names is a FIFO: had qemu-img opened it, the test would
 * hang past its timeout.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ForgedBackupTest {
    private static final long MIB = 1024 * 1024;
    private static final Instant T0 = Instant.parse("2026-11-20T10:00:00Z");
    private static final String TOKEN = "forged-backup-test-token-0123456789";

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Forgery.class)
    void theImporterRemovesAForgedFetchedIncrementalAndSaysWhy(Forgery forgery) throws Exception {
        Path fifo = ForgedImage.fifo(dir.resolve("host-secret"));
        Path mainRepo = Files.createDirectories(dir.resolve("main"));
        Path cloneRepo = dir.resolve("clone");
        ZkLayout layout = new ZkLayout("/rkvm-test", "vm1");
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                CuratorFramework client = ZkClients.connect(ZkSettings.of(zk.getConnectString()))) {
            Epoch epoch = new EpochStore(client, layout).initialize("main");
            TestRepository chains = new TestRepository(mainRepo, dir.resolve("work"), "virtio0", 16 * MIB);
            Point full = chains.full(T0, "write -P 0x41 0 1M");
            Point inc = chains.inc(T0.plusSeconds(60), "write -P 0x42 1M 1M");
            Path fullFile = file(mainRepo, full);
            Path incFile = file(mainRepo, inc);
            ForgedImage.rehash(fullFile, epoch.number());
            String why = forgery.apply(incFile, fifo);
            ForgedImage.rehash(incFile, epoch.number());
            ManifestCatalog catalog = new ManifestCatalog(client, layout);
            catalog.publish(epoch, BackupManifest.read(BackupManifest.manifestPath(fullFile)));
            catalog.publish(epoch, BackupManifest.read(BackupManifest.manifestPath(incFile)));

            Path tokenFile = io.resilientkvm.engine.secret.TestSecrets.write(dir.resolve("token"), TOKEN);
            try (BackupServer server = BackupServer.start(BackupServerSettings.loopback(mainRepo, tokenFile));
                    ImporterService importer = importer(client, layout, cloneRepo, server.baseUri())) {
                ImportRound round = importer.reconcileNow();
                assertNotNull(round.error(), round.toString());
                assertTrue(round.error().contains("virtio0/" + inc.chainId() + "/" + inc.file()
                        + " failed verification after import and was removed: "), round.error());
                assertTrue(round.error().contains(why), round.error());
                assertTrue(round.error().contains("refused, nothing was opened"), round.error());
            }
            Path cloneInc = file(cloneRepo, inc);
            assertFalse(Files.exists(cloneInc), "the forged file left the clone's repository");
            assertFalse(Files.exists(BackupManifest.manifestPath(cloneInc)));
            assertTrue(Files.exists(BackupManifest.manifestPath(file(cloneRepo, full))), "the intact full is kept");
            assertTrue(Files.exists(fifo));
        }
    }

    @ParameterizedTest
    @EnumSource(Forgery.class)
    void aPromotionRefusesToRestoreAForgedChain(Forgery forgery) throws Exception {
        Path fifo = ForgedImage.fifo(dir.resolve("host-secret"));
        NodeContext ctx = context();
        Path repo = Files.createDirectories(ctx.config().layout().backupRepository());
        TestRepository chains = new TestRepository(repo, dir.resolve("work"), "virtio0", 16 * MIB);
        chains.full(T0, "write -P 0x41 0 1M");
        Point inc = chains.inc(T0.plusSeconds(60), "write -P 0x42 1M 1M");
        String why = forgery.apply(file(repo, inc), fifo);

        RefusedException e = assertThrows(RefusedException.class, () -> Promotion.restoreDisks(ctx));
        assertTrue(e.getMessage().startsWith("refusing to restore virtio0 at " + inc.name()), e.getMessage());
        assertTrue(e.getMessage().contains(file(repo, inc) + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
        assertTrue(e.getMessage().contains("refused, nothing was opened"), e.getMessage());
        assertFalse(Files.exists(ctx.config().layout().mainDisk()), "no overlay was made");
        assertTrue(new Holds(repo).list().isEmpty(), "no hold was left");
        assertTrue(Files.exists(fifo));
    }

    private NodeContext context() throws Exception {
        Path params = Files.writeString(dir.resolve("resilient.json"), """
                {"-sla-0-computer_guid": "node-main", "-sla-1-computer_guid": "node-clone1",
                 "ram-size": 256, "cpu-count": 1, "disk-size": 1, "use-tap": false}
                """);
        Path config = Files.writeString(dir.resolve("node.json"), """
                {"node": "node-clone1", "instance": "kvm1", "data-dir": "%s", "parameters": "%s",
                 "software-type": "kvm-resilient", "network": {"ipv4": "127.0.0.1", "ipv6": "::1"},
                 "vnc": {"listen": "unix"}, "qemu": {"accelerator": "auto"}}
                """.formatted(dir.resolve("data"), params));
        NodeConfig node = NodeConfig.load(config);
        InstanceParameters p = ParameterFiles.load(params, SchemaKind.RESILIENT_INSTANCE);
        // Promotion's restore reads the layout and the disks; no ZooKeeper session is needed for it.
        return new NodeContext(node, p, p.resilient().orElseThrow(), null, node.zkLayout());
    }

    private static ImporterService importer(CuratorFramework client, ZkLayout layout, Path repository, URI main)
            throws Exception {
        BackupFetcher fetcher = new BackupFetcher(TransferSettings.of(main, TOKEN));
        return ImporterService.start(client, layout,
                new ImporterService.Settings("clone1", repository, Duration.ofMinutes(5), Duration.ofMinutes(1)),
                (uri, manifest, repo) -> {
                    try {
                        return fetcher.fetchFile(manifest, repo).bytes();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new OperationFailedException("interrupted", e);
                    }
                }, epoch -> Optional.of(main), round -> { });
    }

    private static Path file(Path repo, Point p) {
        return repo.resolve(p.device()).resolve(p.chainId()).resolve(p.file());
    }
}

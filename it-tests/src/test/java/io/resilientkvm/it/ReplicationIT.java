package io.resilientkvm.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.backup.VerifyReport;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.node.zk.EmbeddedZooKeeper;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.DeviceBackup;
import io.resilientkvm.exporter.Exporter;
import io.resilientkvm.exporter.server.BackupServer;
import io.resilientkvm.exporter.server.BackupServerSettings;
import io.resilientkvm.importer.restore.RestoreRequest;
import io.resilientkvm.importer.restore.Restorer;
import io.resilientkvm.importer.service.ImporterService;
import io.resilientkvm.importer.transfer.BackupFetcher;
import io.resilientkvm.importer.transfer.TransferSettings;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A main and two clones in one JVM, all real: QEMU, the exporter, the backup server over
 * loopback HTTP, an embedded ZooKeeper, the importers. Every point both clones hold must
 * restore to exactly the data written up to it.
 */
class ReplicationIT {
    private static final long MIB = 1 << 20;
    private static final String TOKEN = "it-token-0123456789abcdef-0123456789";

    @TempDir
    Path dir;

    private EmbeddedZooKeeper zk;
    private final List<CuratorFramework> clients = new ArrayList<>();
    private final ZkLayout layout = new ZkLayout("/rkvm-it", "vm1");

    /** One guest write, replayed on a blank image to build each point's expected content. */
    record Write(int pattern, long offset, long length) {
    }

    @BeforeEach
    void startZooKeeper() throws Exception {
        zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0);
    }

    @AfterEach
    void stop() {
        clients.forEach(CuratorFramework::close);
        zk.close();
    }

    private CuratorFramework client() throws Exception {
        CuratorFramework c = ZkClients.connect(ZkSettings.of(zk.connectString()));
        clients.add(c);
        return c;
    }

    private ImporterService importer(String node, Path repository, URI main) throws Exception {
        BackupFetcher fetcher = new BackupFetcher(TransferSettings.of(main, TOKEN));
        return ImporterService.start(client(), layout,
                new ImporterService.Settings(node, repository, Duration.ofSeconds(5), Duration.ofMinutes(5)),
                (uri, manifest, repo) -> {
                    try {
                        return fetcher.fetchFile(manifest, repo).bytes();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new io.resilientkvm.engine.error.OperationFailedException("interrupted", e);
                    }
                }, epoch -> Optional.of(main), round -> { });
    }

    @Test
    void twoClonesHoldEveryPointVerifiedAndAStoppedCloneCatchesUp() throws Exception {
        CuratorFramework mainZk = client();
        Epoch epoch = new EpochStore(mainZk, layout).initialize("main");
        ManifestCatalog catalog = new ManifestCatalog(mainZk, layout);
        ImporterStatusStore statuses = new ImporterStatusStore(client(), layout);
        Path tokenFile = io.resilientkvm.engine.secret.TestSecrets.write(dir.resolve("token"), TOKEN);
        Path source = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 128 * MIB);
        Path mainRepo = dir.resolve("main/backup");
        Path clone1 = dir.resolve("clone1/backup");
        Path clone2 = dir.resolve("clone2/backup");
        BackupRequest request = BackupRequest.of(null, mainRepo).withInstance("vm1").withEpoch(epoch.number());

        List<Write> written = new ArrayList<>();
        Map<String, Integer> writesAtPoint = new TreeMap<>(); // backup file -> writes it contains
        List<BackupManifest> points = new ArrayList<>();
        try (TestVm vm = TestVm.builder(dir.resolve("vm")).disk("virtio0", source).running(true).start();
                BackupServer server = BackupServer.start(BackupServerSettings.loopback(mainRepo, tokenFile))) {
            ImporterService importer1 = importer("clone1", clone1, server.baseUri());
            ImporterService importer2 = importer("clone2", clone2, server.baseUri());
            try {
                // Full, then two incrementals, both clones following.
                for (Write w : List.of(new Write(0x41, 0, 4 * MIB), new Write(0x42, 8 * MIB, MIB), new Write(0x43, 100 * MIB, MIB))) {
                    write(vm, written, w);
                    BackupManifest m = backup(request, vm, catalog, epoch);
                    points.add(m);
                    writesAtPoint.put(m.file(), written.size());
                    awaitHeld(statuses, "clone1", m);
                    awaitHeld(statuses, "clone2", m);
                }
                // clone2 is down during two backups.
                importer2.close();
                for (Write w : List.of(new Write(0x44, 0, MIB), new Write(0x45, 64 * MIB, 2 * MIB))) {
                    write(vm, written, w);
                    BackupManifest m = backup(request, vm, catalog, epoch);
                    points.add(m);
                    writesAtPoint.put(m.file(), written.size());
                    awaitHeld(statuses, "clone1", m);
                }
                assertEquals(3, new BackupRepository(clone2).newestChain("virtio0").orElseThrow().backups().size(),
                        "clone2 was stopped: it still holds the first three points");
                importer2 = importer("clone2", clone2, server.baseUri());
                awaitHeld(statuses, "clone2", points.get(points.size() - 1));
                // A new chain (full on demand) reaches both.
                write(vm, written, new Write(0x46, 32 * MIB, MIB));
                BackupManifest full = backup(request.withLevel(BackupRequest.Level.FULL), vm, catalog, epoch);
                points.add(full);
                writesAtPoint.put(full.file(), written.size());
                awaitHeld(statuses, "clone1", full);
                awaitHeld(statuses, "clone2", full);
                assertEquals(null, statuses.read("clone1").orElseThrow().lastError());
            } finally {
                importer1.close();
                importer2.close();
            }
            vm.quit();
        }

        // Both clones hold the main's chains, file for file, and every chain verifies.
        assertEquals(listing(mainRepo), listing(clone1));
        assertEquals(listing(mainRepo), listing(clone2));
        for (Path clone : List.of(clone1, clone2)) {
            for (Chain chain : new BackupRepository(clone).chains("virtio0")) {
                VerifyReport report = ChainVerifier.verify(chain);
                assertTrue(report.ok(), clone + ": " + report.problems());
            }
        }
        // Every point restores, from either clone, to exactly what was written up to it.
        int i = 0;
        for (BackupManifest point : points) {
            Path clone = i++ % 2 == 0 ? clone1 : clone2;
            Path restored = dir.resolve("restored-" + point.file());
            new Restorer(clone).materialize(RestoreRequest.to(restored).withDevice("virtio0").withUntil(point.file()));
            Path expected = reference(written.subList(0, writesAtPoint.get(point.file())), 128 * MIB, point.file());
            assertTrue(TestVm.sameContent(restored, expected), "restore of " + point.file() + " from " + clone
                    + " differs from the data written up to it");
        }
    }

    private static void write(TestVm vm, List<Write> written, Write w) throws Exception {
        vm.write("virtio0", w.pattern(), w.offset(), w.length());
        written.add(w);
    }

    private static BackupManifest backup(BackupRequest request, TestVm vm, ManifestCatalog catalog, Epoch epoch)
            throws Exception {
        List<DeviceBackup> backups = Exporter.backup(request, vm.qmp()).backups();
        assertEquals(1, backups.size());
        BackupManifest m = backups.get(0).manifest();
        catalog.publish(epoch, m);
        return m;
    }

    private static void awaitHeld(ImporterStatusStore statuses, String clone, BackupManifest m) {
        await(clone + " holds " + m.file()).atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(100))
                .until(() -> statuses.read(clone).flatMap(s -> s.point(m.device()))
                        .map(p -> p.chainId().equals(m.chainId()) && p.sequence() == m.sequence()).orElse(false));
    }

    /** Relative path -> SHA-256 of every backup file (manifests included) of a repository. */
    private static Map<String, String> listing(Path repo) throws Exception {
        Map<String, String> files = new TreeMap<>();
        try (Stream<Path> s = Files.walk(repo)) {
            for (Path f : s.filter(Files::isRegularFile).filter(p -> p.getFileName().toString().contains(".qcow2"))
                    .filter(p -> !p.getFileName().toString().endsWith(".json")).toList()) {
                files.put(repo.relativize(f).toString(), io.resilientkvm.engine.backup.Sha256.of(f));
            }
        }
        return files;
    }

    /** A blank image with {@code writes} replayed by qemu-io: what a point must contain. */
    private Path reference(List<Write> writes, long size, String name) throws Exception {
        Path ref = TestVm.blankQcow2(dir.resolve("expected-" + name), size);
        for (Write w : writes) {
            Process p = new ProcessBuilder("qemu-io", "-f", "qcow2", "-c",
                    "write -P 0x" + Integer.toHexString(w.pattern()) + " " + w.offset() + " " + w.length(), ref.toString())
                    .redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "qemu-io: " + out);
        }
        return ref;
    }
}

package io.resilientkvm.it;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.OperationFailedException;
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
import io.resilientkvm.exporter.Exporter;
import io.resilientkvm.exporter.server.BackupServer;
import io.resilientkvm.exporter.server.BackupServerSettings;
import io.resilientkvm.importer.service.ImporterService;
import io.resilientkvm.importer.transfer.BackupFetcher;
import io.resilientkvm.importer.transfer.TransferSettings;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import org.apache.curator.framework.CuratorFramework;

/**
 * bench/importer/lag.sh: replication lag of a 256 MiB incremental, from the main's published
 * manifest to both clones holding it verified (status in ZooKeeper), with everything real:
 * QEMU, the exporter, the backup server over loopback, ZooKeeper, two importers. The baseline
 * in the same run is the bare transfer: one fetch of the same file without ZooKeeper.
 */
public final class ReplicationLagBench {
    private static final long MIB = 1 << 20;
    private static final String TOKEN = "bench-token-0123456789abcdef-0123456789";

    private ReplicationLagBench() {
    }

    public static void main(String[] args) throws Exception {
        long incMib = args.length > 0 ? Long.parseLong(args[0]) : 256;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path dir = Files.createTempDirectory("rkvm-lag-");
        ZkLayout layout = new ZkLayout("/rkvm-bench", "lag");
        List<CuratorFramework> clients = new ArrayList<>();
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0)) {
            for (int i = 0; i < 4; i++) {
                clients.add(ZkClients.connect(ZkSettings.of(zk.connectString())));
            }
            Epoch epoch = new EpochStore(clients.get(0), layout).initialize("main");
            ManifestCatalog catalog = new ManifestCatalog(clients.get(0), layout);
            ImporterStatusStore statuses = new ImporterStatusStore(clients.get(3), layout);
            Path token = io.resilientkvm.engine.secret.TestSecrets.write(dir.resolve("token"), TOKEN);
            Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 2048 * MIB);
            Path random = dir.resolve("random.bin");
            try (OutputStream out = Files.newOutputStream(random)) {
                byte[] b = new byte[(int) MIB];
                Random r = new Random(42);
                for (long i = 0; i < incMib; i++) {
                    r.nextBytes(b);
                    out.write(b);
                }
            }
            Path mainRepo = dir.resolve("main");
            BackupRequest request = BackupRequest.of(null, mainRepo).withInstance("lag").withEpoch(0);
            try (TestVm vm = TestVm.builder(dir.resolve("vm")).disk("virtio0", disk).running(true).start();
                    BackupServer server = BackupServer.start(BackupServerSettings.loopback(mainRepo, token))) {
                List<ImporterService> importers = new ArrayList<>();
                for (int c = 1; c <= 2; c++) {
                    BackupFetcher fetcher = new BackupFetcher(TransferSettings.of(server.baseUri(), TOKEN));
                    importers.add(ImporterService.start(clients.get(c), layout,
                            new ImporterService.Settings("clone" + c, dir.resolve("clone" + c), Duration.ofSeconds(30),
                                    Duration.ofMinutes(10)),
                            (uri, m, repo) -> {
                                try {
                                    return fetcher.fetchFile(m, repo).bytes();
                                } catch (InterruptedException e) {
                                    Thread.currentThread().interrupt();
                                    throw new OperationFailedException("interrupted", e);
                                }
                            }, e -> Optional.of(server.baseUri()), round -> { }));
                }
                publishAndWait(vm, request, catalog, epoch, statuses); // the full
                System.out.printf(Locale.ROOT, "%-6s %-10s %-12s %-14s %-16s %-8s%n", "round", "inc MiB", "lag s",
                        "bare fetch s", "lag - fetch s", "MB/s");
                for (int round = 1; round <= rounds; round++) {
                    vm.writeFrom("virtio0", random, (round % 4) * incMib * MIB, incMib * MIB);
                    long[] t = publishAndWait(vm, request, catalog, epoch, statuses);
                    BackupManifest m = catalog.newestPerDevice().get(0);
                    double lag = (t[1] - t[0]) / 1e9;
                    Path bare = dir.resolve("bare-" + round);
                    double fetch;
                    try (BackupFetcher f = new BackupFetcher(TransferSettings.of(server.baseUri(), TOKEN))) {
                        // the same file, to an empty repository: its parent is needed, so fetch the chain
                        for (BackupManifest p : catalog.list()) {
                            if (p.chainId().equals(m.chainId()) && p.sequence() < m.sequence()) {
                                f.fetch(p, bare);
                            }
                        }
                        long s = System.nanoTime();
                        f.fetch(m, bare);
                        fetch = (System.nanoTime() - s) / 1e9;
                    }
                    System.out.printf(Locale.ROOT, "%-6d %-10.1f %-12.3f %-14.3f %-16.3f %-8.1f%n", round, m.fileSize() / 1048576.0,
                            lag, fetch, lag - fetch, m.fileSize() / 1e6 / lag);
                }
                importers.forEach(ImporterService::close);
                vm.quit();
            } finally {
                clients.forEach(CuratorFramework::close); // before the server goes
            }
        } finally {
            try (var s = Files.walk(dir)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** Backs up, publishes, waits until both clones hold it; returns {published, both held} nanos. */
    private static long[] publishAndWait(TestVm vm, BackupRequest request, ManifestCatalog catalog, Epoch epoch,
            ImporterStatusStore statuses) throws Exception {
        BackupManifest m = Exporter.backup(request, vm.qmp()).backups().get(0).manifest();
        catalog.publish(epoch, m);
        long published = System.nanoTime();
        // A 5 ms poll keeps the measurement error small next to a lag of about a second.
        org.awaitility.Awaitility.await("both clones hold " + m.file()).atMost(Duration.ofMinutes(10))
                .pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(5))
                .until(() -> holds(statuses, "clone1", m) && holds(statuses, "clone2", m));
        return new long[] {published, System.nanoTime()};
    }

    private static boolean holds(ImporterStatusStore statuses, String clone, BackupManifest m) throws Exception {
        return statuses.read(clone).flatMap(s -> s.point(m.device()))
                .map(p -> p.chainId().equals(m.chainId()) && p.sequence() >= m.sequence()).orElse(false);
    }
}

package io.resilientkvm.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.backup.Sha256;
import io.resilientkvm.engine.backup.VerifyReport;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.testing.TestVm;
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
import io.resilientkvm.node.zk.EmbeddedZooKeeper;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * A clone's importer ({@code bin/importer}, a JVM of its own) SIGKILLed mid-download of a
 * backup, then started again plainly: it must complete the download, verify it, and hold a
 * file that restores to exactly the main's disk. The main is real (QEMU, the exporter, the
 * backup server, ZooKeeper); a relay in front of its server holds the first transfer at a
 * known size so the kill lands mid-file.
 */
class ImporterCrashIT {
    private static final long MIB = 1 << 20;
    private static final long STALL_AFTER = 8 * MIB;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS) // a failure keeps the importer's log
    Path dir;

    @Test
    void anImporterKilledMidDownloadCompletesItOnTheNextRun() throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-it", "imp");
        Path token = io.resilientkvm.engine.secret.TestSecrets.write(dir.resolve("token"), "0123456789abcdef0123456789abcdef");
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        Path mainRepo = dir.resolve("main/backup");
        Path random = dir.resolve("random.bin");
        byte[] bytes = new byte[(int) (32 * MIB)];
        new Random(12).nextBytes(bytes);
        Files.write(random, bytes);
        Path cloneDir = dir.resolve("node-b");
        Process importer = null;
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("zk"), 0);
                CuratorFramework mainZk = ZkClients.connect(ZkSettings.of(zk.connectString()));
                TestVm vm = TestVm.builder(dir.resolve("vm")).disk("virtio0", disk).running(true).start();
                BackupServer server = BackupServer.start(BackupServerSettings.loopback(mainRepo, token));
                StallingProxy proxy = new StallingProxy(server.baseUri().getPort(), STALL_AFTER)) {
            Epoch epoch = new EpochStore(mainZk, layout).initialize("node-a");
            vm.writeFrom("virtio0", random, 4 * MIB, 32 * MIB);
            vm.write("virtio0", 0x41, 0, MIB);
            DeviceBackup full = Exporter.backup(BackupRequest.of(null, mainRepo).withInstance("imp")
                    .withEpoch(epoch.number()), vm.qmp()).backups().get(0);
            BackupManifest m = full.manifest();
            assertTrue(m.fileSize() > 2 * STALL_AFTER, "the backup must outlast the held part: " + m.fileSize());
            new ManifestCatalog(mainZk, layout).publish(epoch, m);
            String address = server.baseUri().toString().replace(":" + server.baseUri().getPort(), ":" + proxy.port());
            try (Membership main = Membership.register(mainZk, layout, new MemberInfo("node-a", Role.MAIN, address,
                    epoch.number(), Instant.now()), 15_000)) {
                Path params = Files.writeString(dir.resolve("params.json"), """
                        {"-sla-0-computer_guid": "node-a", "-sla-1-computer_guid": "node-b",
                         "ram-size": 256, "cpu-count": 1, "disk-size": 1, "use-nat": false, "use-tap": false}
                        """);
                Path config = Files.writeString(dir.resolve("node-b.json"), """
                        {"node": "node-b", "instance": "imp", "data-dir": "%s", "parameters": "%s",
                         "software-type": "kvm-resilient", "vnc": {"listen": "none"},
                         "zookeeper": {"connect": "%s", "base-path": "/rkvm-it", "session-timeout-ms": 4000},
                         "backup-server": {"token-file": "%s"}}
                        """.formatted(cloneDir, params, zk.connectString(), token));
                Path cloneRepo = new InstanceLayout(cloneDir).backupRepository();
                Path log = dir.resolve("importer.log");
                importer = importer(config, log);
                Process first = importer;
                await("the download is held mid-file").atMost(2, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(50))
                        .until(() -> proxy.stalled() && partialSize(cloneRepo) > STALL_AFTER / 2 || !first.isAlive());
                assertTrue(first.isAlive(), () -> read(log));
                first.destroyForcibly(); // SIGKILL mid-download
                assertTrue(first.waitFor(30, TimeUnit.SECONDS));
                assertEquals(137, first.exitValue());
                long left = partialSize(cloneRepo);
                assertTrue(left > 0 && left < m.fileSize(), "a partial file stays: " + left);
                assertFalse(new BackupRepository(cloneRepo).newestBackup("virtio0").isPresent(),
                        "nothing counts as held yet");

                // A plain run: the same command, the same configuration.
                proxy.release();
                importer = importer(config, log);
                ImporterStatusStore statuses = new ImporterStatusStore(mainZk, layout);
                Process second = importer;
                await("the restarted importer holds the backup").atMost(2, TimeUnit.MINUTES)
                        .pollInterval(Duration.ofMillis(100)).until(() -> statuses.read("node-b")
                                .flatMap(s -> s.point("virtio0")).map(p -> p.atLeast(m.chainId(), m.sequence()))
                                .orElse(false) || !second.isAlive());
                assertTrue(second.isAlive(), () -> read(log));

                BackupRepository held = new BackupRepository(cloneRepo);
                Chain chain = held.newestChain("virtio0").orElseThrow();
                Path file = chain.dir().resolve(m.file());
                assertEquals(m.sha256(), Sha256.of(file), "the completed file is the main's, byte for byte");
                VerifyReport report = ChainVerifier.verify(chain);
                assertTrue(report.ok(), report.problems().toString());
                assertEquals(0, partialSize(cloneRepo), "no partial file stays");
                vm.qmp().execute("stop");
                assertTrue(TestVm.sameContent(file, disk), "the held backup restores to the main's disk");
                assertTrue(TestVm.hasPattern(file, 0x41, 0, MIB));
                // For the record (the wording is the fetcher's): where the second run resumed.
                read(log).lines().filter(l -> l.contains("Fetched") || l.contains("esum")).forEach(System.out::println);
            }
        } finally {
            if (importer != null) {
                importer.destroyForcibly();
            }
        }
    }

    private static Process importer(Path config, Path log) throws Exception {
        return ChildJvm.start(List.of(), List.of("io.resilientkvm.cli.node.ImporterCommand", "--config", config.toString()),
                log);
    }

    /** The size of the partial download in the clone's repository, 0 when there is none. */
    private static long partialSize(Path repo) throws Exception {
        if (!Files.exists(repo)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(repo)) {
            Optional<Path> partial = s.filter(f -> f.getFileName().toString().endsWith(BackupRepository.PARTIAL))
                    .findFirst();
            return partial.isPresent() ? Files.size(partial.get()) : 0;
        }
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (java.io.IOException e) {
            return "(no log: " + e.getMessage() + ")";
        }
    }
}

package io.resilientkvm.importer.service;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.NextStep;
import io.resilientkvm.engine.error.OperationFailedException;
import org.apache.curator.test.TestingServer;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.exporter.server.BackupServer;
import io.resilientkvm.exporter.server.BackupServerSettings;
import io.resilientkvm.importer.transfer.BackupFetcher;
import io.resilientkvm.importer.transfer.FailingMain;
import io.resilientkvm.importer.transfer.MainRepository;
import io.resilientkvm.importer.transfer.TransferSettings;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The importer's loop branches on what a failure says to do next: real ZooKeeper (embedded),
 * the real backup server and fetcher over loopback, real qcow2 backups; a {@link FailingMain}
 * stands in for a main answering 500, which the real server never does.
 */
class ImporterServiceTest {
    private static final String TOKEN = "clone-token-abcdef0123456789abcdef01";

    @TempDir
    Path dir;

    private final ZkLayout layout = new ZkLayout("/rkvm-test", "demo");
    private final List<AutoCloseable> open = new ArrayList<>();
    private final AtomicInteger downloads = new AtomicInteger();
    private final AtomicInteger downloadsThisRound = new AtomicInteger();
    private final List<Integer> downloadsPerRound = new java.util.concurrent.CopyOnWriteArrayList<>();
    private TestingServer zk;
    private CuratorFramework mainClient;
    private Epoch epoch;
    private ManifestCatalog catalog;
    private MainRepository main;
    private BackupServer server;
    private Path clone;

    @BeforeEach
    void setUp() throws Exception {
        zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
        mainClient = ZkClients.connect(ZkSettings.of(zk.getConnectString()));
        EpochStore epochs = new EpochStore(mainClient, layout);
        epoch = epochs.advance(epochs.initialize("main"), "main"); // epoch 1, as the test repository's manifests
        catalog = new ManifestCatalog(mainClient, layout);
        // The clone's first status write then changes nothing the importer watches (no extra round).
        mainClient.create().creatingParentsIfNeeded().forPath(layout.importersPath());
        Files.createDirectories(dir.resolve("work"));
        main = new MainRepository(dir.resolve("main"), dir.resolve("work"));
        Path tokenFile = dir.resolve("token");
        io.resilientkvm.engine.secret.TestSecrets.write(tokenFile, TOKEN);
        server = BackupServer.start(BackupServerSettings.loopback(main.root(), tokenFile));
        clone = dir.resolve("clone");
    }

    @AfterEach
    void tearDown() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        server.close();
        mainClient.close();
        zk.close();
    }

    /** An importer that never resyncs by itself within a test: only events and its retries start rounds. */
    private ImporterService importer(AtomicReference<URI> mainAt, String token) throws Exception {
        return importer(mainAt, token, ImporterService.Settings.DEFAULT_FREE_SPACE_RESERVE);
    }

    private ImporterService importer(AtomicReference<URI> mainAt, String token, long reserve) throws Exception {
        CuratorFramework c = ZkClients.connect(ZkSettings.of(zk.getConnectString()));
        open.add(c);
        Map<URI, BackupFetcher> fetchers = new ConcurrentHashMap<>();
        open.add(() -> fetchers.values().forEach(BackupFetcher::close));
        ImporterService s = ImporterService.start(c, layout, new ImporterService.Settings("clone1", clone,
                Duration.ofHours(1), Duration.ofMinutes(2), Duration.ofMillis(10), Duration.ofHours(1), reserve),
                (uri, m, repo) -> {
                    downloads.incrementAndGet();
                    downloadsThisRound.incrementAndGet();
                    BackupFetcher f = fetchers.get(uri);
                    if (f == null) { // rounds run on one thread: no race
                        f = new BackupFetcher(TransferSettings.of(uri, token)
                                .withRetries(2, Duration.ofMillis(1), Duration.ofMillis(2)), d -> { });
                        fetchers.put(uri, f);
                    }
                    try {
                        return f.fetchFile(m, repo).bytes();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new OperationFailedException("interrupted", e);
                    }
                }, e -> Optional.of(mainAt.get()),
                r -> downloadsPerRound.add(downloadsThisRound.getAndSet(0)));
        open.add(s);
        return s;
    }

    private boolean held(BackupManifest m) {
        return Files.exists(BackupManifest.manifestPath(clone.resolve(m.device()).resolve(m.chainId()).resolve(m.file())));
    }

    private static BackupManifest withSha(BackupManifest m, String sha) {
        return new BackupManifest(m.formatVersion(), m.instance(), m.device(), m.chainId(), m.sequence(), m.level(),
                m.file(), m.parent(), m.bitmap(), m.virtualSize(), m.fileSize(), sha, m.createdAt(), m.startedAt(),
                m.finishedAt(), m.epoch(), m.bytesTransferred(), m.durationMillis());
    }

    @Test
    void aBackupWhoseBytesNeverMatchIsGivenUpUntilItsManifestChanges() throws Exception {
        BackupManifest real = main.full(1, 21);
        // The main published a checksum its file does not have.
        catalog.publish(epoch, withSha(real, "ab".repeat(32)));
        ImporterService importer = importer(new AtomicReference<>(server.baseUri()), TOKEN);

        ImportRound first = importer.reconcileNow();
        assertEquals(NextStep.GIVE_UP_ITEM, first.next(), String.valueOf(first));
        assertEquals(null, first.retryIn(), "a backup given up is not retried like a network blip");
        assertTrue(first.error().contains(real.file()) && first.error().contains("SHA-256"), first.error());
        ImportRound again = importer.reconcileNow();
        assertEquals(NextStep.GIVE_UP_ITEM, again.next(), String.valueOf(again));
        assertTrue(again.refused().stream().anyMatch(r -> r.contains(real.file()) && r.contains("given up")),
                again.refused().toString());
        assertEquals(1, downloads.get(), "a backup given up is not fetched again while its manifest is the same");
        assertEquals(false, held(real));

        // The main publishes the backup anew, right this time: the clone tries it again at once.
        catalog.removeChain(epoch, real.device(), real.chainId());
        catalog.publish(epoch, real);
        await().atMost(Duration.ofSeconds(60)).until(() -> held(real));
        assertEquals(2, downloads.get());
        await().atMost(Duration.ofSeconds(10)).until(() -> importer.lastRound().map(ImportRound::ok).orElse(false));
    }

    @Test
    void aMainAnswering500IsRetriedWithBackoffWithoutWaitingForAnEvent() throws Exception {
        BackupManifest real = main.full(1, 22);
        catalog.publish(epoch, real);
        try (FailingMain failing = new FailingMain(500)) {
            AtomicReference<URI> mainAt = new AtomicReference<>(failing.baseUri());
            ImporterService importer = importer(mainAt, TOKEN);
            // Start-up brings at most two rounds (the first, and one for the cache's initial events);
            // four failed rounds (two attempts each) mean the importer retried by itself.
            await().atMost(Duration.ofSeconds(30)).until(() -> failing.requests() >= 8 && importer.lastRound()
                    .filter(r -> r.next() == NextStep.RETRY && r.error().contains("HTTP 500")
                            && r.error().contains("after 2 attempts") && r.retryIn() != null).isPresent());
            // Nothing changes in ZooKeeper from here on, and the resync is an hour away: only the
            // importer's own retry can start the round that imports it.
            mainAt.set(server.baseUri());
            await().atMost(Duration.ofSeconds(60)).until(() -> held(real));
            await().atMost(Duration.ofSeconds(10)).until(() -> importer.lastRound().map(ImportRound::ok).orElse(false));
        }
    }

    @Test
    void aRefusedTokenStopsTheRoundWithoutARetryStorm() throws Exception {
        BackupManifest real = main.full(1, 23);
        catalog.publish(epoch, real);
        ImporterService importer = importer(new AtomicReference<>(server.baseUri()), "not-the-token");
        ImportRound r = importer.reconcileNow();
        assertEquals(NextStep.REFUSE, r.next(), String.valueOf(r));
        assertTrue(r.error().contains("401") && r.error().contains("token"), r.error());
        // No round of the importer's own: the next one waits for an event or the resync.
        assertEquals(null, r.retryIn());
        ImportRound again = importer.reconcileNow();
        assertEquals(NextStep.REFUSE, again.next(), String.valueOf(again));
        assertEquals(null, again.retryIn());
        // Each round tried the backup once (the rounds run on one thread, this count is exact).
        assertTrue(downloadsPerRound.stream().allMatch(n -> n == 1), downloadsPerRound.toString());
        assertEquals(false, held(real));
    }

    private Path cloneFile(BackupManifest m) {
        return clone.resolve(m.device()).resolve(m.chainId()).resolve(m.file());
    }

    @Test
    void aFileLeftWithoutItsManifestIsVerifiedThenCountsAsHeld() throws Exception {
        // A clone killed after the download and before the verification: the file, no manifest.
        BackupManifest real = main.full(1, 24);
        Files.createDirectories(cloneFile(real).getParent());
        Files.copy(main.root().resolve(real.device()).resolve(real.chainId()).resolve(real.file()), cloneFile(real));
        catalog.publish(epoch, real);
        ImporterService importer = importer(new AtomicReference<>(server.baseUri()), TOKEN);
        ImportRound r = importer.reconcileNow();
        assertTrue(r.ok(), String.valueOf(r));
        assertTrue(held(real), "verified, then its manifest written");
        assertEquals(List.of(), importer.reconcileNow().imported(), "held from then on");
        assertEquals(0, importer.lastRound().orElseThrow().bytes());
    }

    @Test
    void aFileLeftWithoutItsManifestThatFailsVerificationIsNotHeld() throws Exception {
        // The same crash, with bytes that match the published size and SHA-256 but are no qcow2 image:
        // before, the manifest was written before qemu-img check, and such a file was held forever.
        BackupManifest real = main.full(1, 25);
        byte[] junk = new byte[65536];
        new java.util.Random(25).nextBytes(junk);
        Files.createDirectories(cloneFile(real).getParent());
        Files.write(cloneFile(real), junk);
        BackupManifest broken = new BackupManifest(real.formatVersion(), real.instance(), real.device(), real.chainId(),
                real.sequence(), real.level(), real.file(), real.parent(), real.bitmap(), real.virtualSize(), junk.length,
                io.resilientkvm.engine.backup.Sha256.of(cloneFile(real)), real.createdAt(), real.startedAt(),
                real.finishedAt(), real.epoch(), junk.length, real.durationMillis());
        catalog.publish(epoch, broken);
        ImporterService importer = importer(new AtomicReference<>(server.baseUri()), TOKEN);
        ImportRound r = importer.reconcileNow();
        assertEquals(NextStep.GIVE_UP_ITEM, r.next(), String.valueOf(r));
        assertTrue(r.error().contains("failed verification") && r.error().contains(real.file()), r.error());
        assertEquals(false, held(broken));
        assertEquals(false, Files.exists(cloneFile(real)), "the unverifiable file is removed");
        assertTrue(importer.heldPoints().isEmpty(), "nothing counts as held");
    }

    @Test
    void aDownloadThatWouldFillTheDiskIsRefusedWithTheFiguresAndRetried() throws Exception {
        BackupManifest real = main.full(1, 26);
        catalog.publish(epoch, real);
        Files.createDirectories(clone);
        long free = Files.getFileStore(clone).getUsableSpace();
        // A reserve beyond the free space stands in for a full disk (no download may start).
        ImporterService importer = importer(new AtomicReference<>(server.baseUri()), TOKEN, free + (1L << 40));
        ImportRound r = importer.reconcileNow();
        assertEquals(NextStep.RETRY, r.next(), String.valueOf(r));
        assertTrue(r.retryIn() != null, "retried with backoff: space may be freed");
        assertTrue(r.error().contains("not enough free space") && r.error().contains(clone.toString())
                && r.error().contains("needs " + (real.fileSize() + free + (1L << 40)) + " bytes")
                && r.error().contains("are free") && r.error().contains("free-space-reserve"), r.error());
        assertEquals(0, downloads.get(), "nothing was downloaded");
        assertEquals(false, held(real));
    }
}

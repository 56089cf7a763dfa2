package io.resilientkvm.importer.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.backup.Sha256;
import io.resilientkvm.engine.backup.VerifyReport;
import io.resilientkvm.engine.error.GiveUpException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.error.RetryableException;
import io.resilientkvm.exporter.server.BackupServer;
import io.resilientkvm.exporter.server.BackupServerSettings;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Clones pull real qcow2 backups from the real backup server over loopback, with injected faults. */
class BackupFetcherTest {
    private static final String TOKEN = "clone-token-abcdef0123456789-01234";

    @TempDir
    Path dir;

    private MainRepository main;
    private Path tokenFile;
    private Path clone;
    private BackupServer server;
    private final List<Duration> sleeps = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        Files.createDirectories(dir.resolve("work"));
        main = new MainRepository(dir.resolve("main"), dir.resolve("work"));
        tokenFile = dir.resolve("token");
        io.resilientkvm.engine.secret.TestSecrets.write(tokenFile, TOKEN);
        clone = dir.resolve("clone");
        server = BackupServer.start(BackupServerSettings.loopback(main.root(), tokenFile));
    }

    @AfterEach
    void tearDown() {
        server.close();
    }

    private BackupFetcher fetcher(URI base, String token) throws Exception {
        TransferSettings s = TransferSettings.of(base, token).withRetries(3, Duration.ofMillis(1), Duration.ofMillis(5))
                .withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(10));
        return new BackupFetcher(s, d -> sleeps.add(d));
    }

    private URI via(int port) {
        return URI.create("http://127.0.0.1:" + port);
    }

    private VerifyReport verifyClone() throws Exception {
        Chain chain = new BackupRepository(clone).newestChain("virtio0").orElseThrow();
        return ChainVerifier.verify(chain);
    }

    private List<Path> cloneFiles() throws Exception {
        if (!Files.exists(clone)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(clone)) {
            return s.filter(Files::isRegularFile).toList();
        }
    }

    @Test
    void aFullAndTwoIncrementalsArriveVerifiedInOrder() throws Exception {
        BackupManifest full = main.full(6, 1);
        BackupManifest inc1 = main.inc(2, 0x5a);
        BackupManifest inc2 = main.inc(3, 0xa5);
        try (BackupFetcher f = fetcher(server.baseUri(), TOKEN)) {
            // An incremental before its parent is refused, and nothing is written.
            RefusedException early = assertThrows(RefusedException.class, () -> f.fetch(inc1, clone));
            assertTrue(early.getMessage().contains(full.file()), early.getMessage());
            assertEquals(List.of(), cloneFiles());

            for (BackupManifest m : List.of(full, inc1, inc2)) {
                FetchResult r = f.fetch(m, clone);
                assertEquals(1, r.attempts());
                assertEquals(m.fileSize(), r.bytes());
                assertEquals(0, r.resumedFrom());
                assertEquals(m.sha256(), Sha256.of(r.file()));
                assertEquals(m, BackupManifest.read(BackupManifest.manifestPath(r.file())));
            }
            VerifyReport report = verifyClone();
            assertTrue(report.ok(), report.problems().toString());
            assertEquals(3, report.chain().backups().size());

            // Fetching again is a no-op.
            FetchResult again = f.fetch(inc2, clone);
            assertEquals(0, again.attempts());
            assertEquals(0, again.bytes());
        }
        assertTrue(cloneFiles().stream().noneMatch(p -> p.toString().endsWith(".partial")));
    }

    @Test
    void aTransferCutInTheMiddleResumesWithARange() throws Exception {
        BackupManifest full = main.full(8, 2);
        long cut = 3 * MainRepository.MIB;
        try (FaultyProxy proxy = FaultyProxy.cuttingFirstConnectionAfter(server.port(), cut);
                BackupFetcher f = fetcher(via(proxy.port()), TOKEN)) {
            FetchResult r = f.fetch(full, clone);
            assertEquals(2, r.attempts());
            assertTrue(r.resumedFrom() > 0 && r.resumedFrom() < cut, "resumed from " + r.resumedFrom());
            // Only the missing part crossed the network the second time.
            assertEquals(full.fileSize(), r.bytes());
            List<String> requests = proxy.requests();
            assertEquals(2, requests.size(), requests.toString());
            assertFalse(requests.get(0).toLowerCase(Locale.ROOT).contains("range:"), requests.get(0));
            assertTrue(requests.get(1).toLowerCase(Locale.ROOT).contains("range: bytes=" + r.resumedFrom() + "-"),
                    requests.get(1));
            assertEquals(1, sleeps.size());
        }
        VerifyReport report = verifyClone();
        assertTrue(report.ok(), report.problems().toString());
    }

    @Test
    void aStalledTransferIsCutByTheWatchdogAndResumed() throws Exception {
        BackupManifest full = main.full(4, 7);
        long stallAt = 2 * MainRepository.MIB;
        try (FaultyProxy proxy = FaultyProxy.stallingFirstConnectionAfter(server.port(), stallAt)) {
            TransferSettings s = TransferSettings.of(via(proxy.port()), TOKEN)
                    .withRetries(3, Duration.ofMillis(1), Duration.ofMillis(5))
                    .withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(1));
            try (BackupFetcher f = new BackupFetcher(s, d -> sleeps.add(d))) {
                FetchResult r = f.fetch(full, clone);
                assertEquals(2, r.attempts());
                assertTrue(r.resumedFrom() > 0 && r.resumedFrom() < stallAt, "resumed from " + r.resumedFrom());
                assertTrue(proxy.requests().get(1).toLowerCase(Locale.ROOT)
                        .contains("range: bytes=" + r.resumedFrom() + "-"), proxy.requests().toString());
            }
        }
        VerifyReport report = verifyClone();
        assertTrue(report.ok(), report.problems().toString());
    }

    @Test
    void aByteCorruptedInTransitIsDetectedAndRefetched() throws Exception {
        BackupManifest full = main.full(4, 3);
        try (FaultyProxy proxy = FaultyProxy.corruptingOnceAt(server.port(), 2 * MainRepository.MIB);
                BackupFetcher f = fetcher(via(proxy.port()), TOKEN)) {
            FetchResult r = f.fetch(full, clone);
            assertEquals(2, r.attempts());
            assertEquals(0, r.resumedFrom(), "a corrupted partial is never resumed");
            assertEquals(2 * full.fileSize(), r.bytes());
        }
        VerifyReport report = verifyClone();
        assertTrue(report.ok(), report.problems().toString());
    }

    @Test
    void aFileCorruptedOnTheMainFailsAfterTheRetriesAndNothingEntersTheClone() throws Exception {
        BackupManifest full = main.full(2, 4);
        try (FileChannel ch = FileChannel.open(main.file(full), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, 100_000);
            b.flip();
            b.put(0, (byte) (b.get(0) ^ 0x40));
            ch.write(b, 100_000);
        }
        try (BackupFetcher f = fetcher(server.baseUri(), TOKEN)) {
            OperationFailedException e = assertThrows(OperationFailedException.class, () -> f.fetch(full, clone));
            assertTrue(e.getMessage().contains(full.file()) && e.getMessage().contains("after 3 attempts")
                    && e.getMessage().contains("SHA-256"), e.getMessage());
            // Bytes that never match the manifest make the backup bad, not the network: give it up.
            assertInstanceOf(GiveUpException.class, e);
        }
        assertEquals(2, sleeps.size());
        assertTrue(sleeps.stream().allMatch(d -> d.toMillis() <= 5), sleeps.toString());
        assertEquals(List.of(), cloneFiles());
    }

    @Test
    void aWrongTokenFailsAtOnceWithoutData() throws Exception {
        BackupManifest full = main.full(1, 5);
        try (BackupFetcher f = fetcher(server.baseUri(), "not-the-token")) {
            RefusedException e = assertThrows(RefusedException.class, () -> f.fetch(full, clone));
            assertTrue(e.getMessage().contains("401") && e.getMessage().contains("token"), e.getMessage());
        }
        // Read from a file, the token's file is named: that is what to fix.
        Path wrong = dir.resolve("clone-token");
        Files.writeString(wrong, "not-the-token\n");
        TransferSettings s = TransferSettings.of(server.baseUri(), "not-the-token").withTokenFile(wrong);
        try (BackupFetcher f = new BackupFetcher(s, d -> sleeps.add(d))) {
            RefusedException e = assertThrows(RefusedException.class, () -> f.fetch(full, clone));
            assertTrue(e.getMessage().contains("401") && e.getMessage().contains(wrong.toString()), e.getMessage());
        }
        assertEquals(List.of(), sleeps, "an authentication failure is not retried");
        assertEquals(List.of(), cloneFiles());
    }

    @Test
    void aFileTheMainNoLongerHasIsGivenUpAtOnce() throws Exception {
        BackupManifest full = main.full(1, 9);
        Files.delete(main.file(full));
        try (BackupFetcher f = fetcher(server.baseUri(), TOKEN)) {
            GiveUpException e = assertThrows(GiveUpException.class, () -> f.fetch(full, clone));
            assertTrue(e.getMessage().contains("404") && e.getMessage().contains(full.file()), e.getMessage());
        }
        assertEquals(List.of(), sleeps, "a 404 is not retried");
        assertEquals(List.of(), cloneFiles());
    }

    @Test
    void serverErrorsAreRetriedWithBackoffThenLeftToTheCallerToRetryLater() throws Exception {
        BackupManifest full = main.full(1, 10);
        try (FailingMain failing = new FailingMain(500); BackupFetcher f = fetcher(failing.baseUri(), TOKEN)) {
            RetryableException e = assertThrows(RetryableException.class, () -> f.fetch(full, clone));
            assertTrue(e.getMessage().contains("after 3 attempts") && e.getMessage().contains("HTTP 500"),
                    e.getMessage());
            assertEquals(3, failing.requests());
        }
        assertEquals(2, sleeps.size(), sleeps.toString());
        assertEquals(List.of(), cloneFiles());
    }

    @Test
    void overHttpsWithASelfSignedCertificate() throws Exception {
        BackupManifest full = main.full(2, 6);
        Path ks = dir.resolve("main.p12");
        Path cert = dir.resolve("main.crt");
        Path trust = dir.resolve("trust.p12");
        Path pass = dir.resolve("keystore.pass");
        io.resilientkvm.engine.secret.TestSecrets.write(pass, "changeit-test");
        MainRepository.run(List.of("keytool", "-genkeypair", "-alias", "main", "-keyalg", "EC", "-groupname",
                "secp256r1", "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2",
                "-storetype", "PKCS12", "-keystore", ks.toString(), "-storepass", "changeit-test"));
        MainRepository.run(List.of("keytool", "-exportcert", "-alias", "main", "-keystore", ks.toString(),
                "-storepass", "changeit-test", "-rfc", "-file", cert.toString()));
        MainRepository.run(List.of("keytool", "-importcert", "-noprompt", "-alias", "main", "-file", cert.toString(),
                "-storetype", "PKCS12", "-keystore", trust.toString(), "-storepass", "changeit-test"));
        try (BackupServer tls = BackupServer.start(BackupServerSettings.loopback(main.root(), tokenFile)
                .withTls(ks, pass))) {
            assertTrue(tls.tls());
            assertTrue(tls.baseUri().toString().startsWith("https://127.0.0.1:"), tls.baseUri().toString());
            // Verification is on: without the main's certificate the handshake fails, and no retry
            // can mend that: refused at once, saying the main is not trusted and why.
            try (BackupFetcher untrusting = fetcher(tls.baseUri(), TOKEN)) {
                RefusedException e = assertThrows(RefusedException.class, () -> untrusting.fetch(full, clone));
                assertTrue(e.getMessage().contains("the main at " + tls.baseUri() + " is not trusted: PKIX path building failed"),
                        e.getMessage());
                assertFalse(e.getMessage().contains("after 3 attempts"), e.getMessage());
            }
            assertEquals(List.of(), cloneFiles());
            TransferSettings s = TransferSettings.of(tls.baseUri(), TOKEN).withTruststore(trust, pass);
            try (BackupFetcher f = new BackupFetcher(s)) {
                FetchResult r = f.fetch(full, clone);
                assertEquals(1, r.attempts());
            }
        }
        VerifyReport report = verifyClone();
        assertTrue(report.ok(), report.problems().toString());
    }
}

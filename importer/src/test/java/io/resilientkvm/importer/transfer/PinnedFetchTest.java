package io.resilientkvm.importer.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.backup.Sha256;
import io.resilientkvm.engine.backup.TlsContexts;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.secret.TestSecrets;
import io.resilientkvm.engine.tls.Fingerprint;
import io.resilientkvm.engine.tls.PinnedTrust;
import io.resilientkvm.engine.tls.TestCertificates;
import io.resilientkvm.engine.tls.TestCertificates.NodeCert;
import io.resilientkvm.exporter.server.BackupServer;
import io.resilientkvm.exporter.server.BackupServerSettings;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A main (node-a) and two clones (node-b, node-c) with real keytool identities, pinned both ways,
 * each clone with its own token: the real backup server (Jetty, client certificate required) and
 * the real fetcher (JDK HttpClient) on loopback.
 */
class PinnedFetchTest {
    private static final String TOKEN_B = "node-b-token-0123456789abcdef0123456789";
    private static final String TOKEN_C = "node-c-token-0123456789abcdef0123456789";
    private static final String OWN = "node-a-own-token-0123456789abcdef012345";

    /** The backup server's loggers (the server's, its connection guard's). */
    private static final String SERVER_LOGS = BackupServer.class.getPackageName();

    @TempDir
    Path dir;

    /** keytool takes seconds per identity: made once for the class (they are read-only here). */
    @TempDir
    static Path certs;

    private static NodeCert a;
    private static NodeCert b;
    private static NodeCert c;
    private static NodeCert mallory;

    private MainRepository main;
    private Path tokenB;
    private Path tokenC;
    private BackupServerSettings settings;
    private BackupServer server;
    private ListAppender<ILoggingEvent> serverLog;

    @BeforeAll
    static void identities() throws Exception {
        a = TestCertificates.node(certs, "node-a");
        b = TestCertificates.node(certs, "node-b");
        c = TestCertificates.node(certs, "node-c");
        mallory = TestCertificates.node(certs, "mallory");
    }

    @BeforeEach
    void setUp() throws Exception {
        Files.createDirectories(dir.resolve("work"));
        main = new MainRepository(dir.resolve("main"), dir.resolve("work"));
        tokenB = dir.resolve("peers-node-b.token");
        tokenC = dir.resolve("peers-node-c.token");
        TestSecrets.write(tokenB, TOKEN_B);
        TestSecrets.write(tokenC, TOKEN_C);
        Path own = dir.resolve("own.token");
        TestSecrets.write(own, OWN);
        settings = BackupServerSettings.loopback(main.root(), own).withTls(a.keystore(), a.passwordFile())
                .withPeers(Map.of("node-b", tokenB, "node-c", tokenC),
                        PinnedTrust.of(Map.of("node-b", b.asPeer("127.0.0.1"), "node-c", c.asPeer("127.0.0.1"))));
        serverLog = new ListAppender<>();
        serverLog.start();
        ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(SERVER_LOGS)).addAppender(serverLog);
        server = BackupServer.start(settings);
    }

    @AfterEach
    void tearDown() {
        server.close();
        ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(SERVER_LOGS)).detachAppender(serverLog);
    }

    /** What a clone's configuration pins for the main: node-a's certificate. */
    private PinnedTrust mainPinned() throws Exception {
        return PinnedTrust.of(Map.of("node-a", a.asPeer("127.0.0.1"))).only("node-a");
    }

    private BackupFetcher clone(NodeCert me, String token, Path tokenFile, URI base) throws Exception {
        TransferSettings s = TransferSettings.of(base, token).withTokenFile(tokenFile)
                .withRetries(3, Duration.ofMillis(1), Duration.ofMillis(5))
                .withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(10))
                .withPinnedMain("node-a", mainPinned(), me.identity());
        return new BackupFetcher(s, d -> { });
    }

    private static List<Path> files(Path root) throws Exception {
        if (!Files.exists(root)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).toList();
        }
    }

    /** One GET with {@code me}'s client certificate (trusting node-a only), as the fetcher sends it. */
    private HttpResponse<String> get(NodeCert me, String path, String token) throws Exception {
        HttpClient client = HttpClient.newBuilder().sslContext(TlsContexts.mutual(me.keystore(), me.passwordFile(),
                "tls.keystore", mainPinned().trustManager())).connectTimeout(Duration.ofSeconds(5)).build();
        return client.send(HttpRequest.newBuilder(server.baseUri().resolve(path)).header("Authorization", "Bearer " + token)
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    private List<String> logged(String part) {
        return serverLog.list.stream().map(ILoggingEvent::getFormattedMessage).filter(m -> m.contains(part)).toList();
    }

    @Test
    void pinnedClonesFetchWithTheirOwnTokensAndCertificates() throws Exception {
        assertTrue(server.tls());
        BackupManifest full = main.full(3, 11);
        BackupManifest inc = main.inc(1, 0x3c);
        for (NodeCert me : List.of(b, c)) {
            Path repo = dir.resolve("clone-" + me.node());
            try (BackupFetcher f = clone(me, me == b ? TOKEN_B : TOKEN_C, me == b ? tokenB : tokenC, server.baseUri())) {
                assertEquals(1, f.fetch(full, repo).attempts());
                FetchResult r = f.fetch(inc, repo);
                assertEquals(1, r.attempts());
                assertEquals(inc.sha256(), Sha256.of(r.file()));
            }
        }
    }

    @Test
    void aClientCertificateThatIsNotPinnedIsRefusedAtTheHandshake() throws Exception {
        BackupManifest full = main.full(1, 12);
        Path repo = dir.resolve("clone");
        try (BackupFetcher f = clone(mallory, TOKEN_B, tokenB, server.baseUri())) {
            RefusedException e = assertThrows(RefusedException.class, () -> f.fetch(full, repo));
            assertTrue(e.getMessage().contains("refused this node's certificate"), e.getMessage());
            assertFalse(e.getMessage().contains("after 3 attempts"), "not retried: " + e.getMessage());
        }
        assertEquals(List.of(), files(repo));
        // The main says why, naming the certificate it saw.
        String seen = Fingerprint.of(PinnedTrust.readPem(mallory.certificate())).toString();
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !logged("refused a TLS connection").isEmpty());
        String line = logged("refused a TLS connection").get(0);
        assertTrue(line.contains(seen) && line.contains("is not pinned"), line);
    }

    @Test
    void aClientWithoutACertificateOrWithTheMainsOwnIsRefused() throws Exception {
        HttpClient bare = HttpClient.newBuilder().sslContext(TlsContexts.mutual(a.keystore(), a.passwordFile(), "tls.keystore",
                mainPinned().trustManager())).build();
        HttpClient none = HttpClient.newBuilder().sslContext(noClientCertificate()).build();
        assertThrows(java.io.IOException.class, () -> none.send(HttpRequest.newBuilder(server.baseUri().resolve(BackupPaths.HEALTH))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()));
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !logged("presented no client certificate").isEmpty());
        // node-a's own certificate is not a pinned client here either.
        assertThrows(java.io.IOException.class, () -> bare.send(HttpRequest.newBuilder(server.baseUri().resolve(BackupPaths.HEALTH))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()));
    }

    private javax.net.ssl.SSLContext noClientCertificate() throws Exception {
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(null, new javax.net.ssl.TrustManager[] {mainPinned().trustManager()}, null);
        return ctx;
    }

    @Test
    void theRightCertificateWithAWrongTokenGets401NamingTheNodeAndNoSecret() throws Exception {
        BackupManifest full = main.full(1, 13);
        String path = BackupPaths.Ref.of(full).urlPath();
        String wrong = "wrong-token-0123456789abcdef0123456789ab";
        HttpResponse<String> r = get(b, path, wrong);
        assertEquals(401, r.statusCode());
        assertTrue(r.body().contains("caller: node-b"), r.body());
        for (String secret : List.of(wrong, TOKEN_B, TOKEN_C, OWN)) {
            assertFalse(r.body().contains(secret), r.body());
        }
        assertEquals(200, get(b, path, TOKEN_B).statusCode());
        // The fetcher maps it to a refusal naming the token file to check.
        Path wrongFile = dir.resolve("wrong.token");
        TestSecrets.write(wrongFile, wrong);
        try (BackupFetcher f = clone(b, wrong, wrongFile, server.baseUri())) {
            RefusedException e = assertThrows(RefusedException.class, () -> f.fetch(full, dir.resolve("clone")));
            assertTrue(e.getMessage().contains("401") && e.getMessage().contains(wrongFile.toString()), e.getMessage());
            // The server's reason, read from WWW-Authenticate, names the node it took the caller for.
            assertTrue(e.getMessage().contains("(a valid bearer token is required (caller: node-b))"), e.getMessage());
            assertFalse(e.getMessage().contains(wrong), e.getMessage());
        }
    }

    @Test
    void nodeBsTokenWithNodeCsCertificateIsRefused() throws Exception {
        BackupManifest full = main.full(1, 14);
        String path = BackupPaths.Ref.of(full).urlPath();
        HttpResponse<String> r = get(c, path, TOKEN_B);
        assertEquals(401, r.statusCode());
        assertTrue(r.body().contains("caller: node-c"), r.body());
        assertEquals(401, get(b, path, TOKEN_C).statusCode());
        assertEquals(200, get(c, path, TOKEN_C).statusCode());
        try (BackupFetcher f = clone(c, TOKEN_B, tokenB, server.baseUri())) {
            assertThrows(RefusedException.class, () -> f.fetch(full, dir.resolve("clone")));
        }
    }

    @Test
    void revokingNodeBRefusesItsNextRequestWhileNodeCStillFetches() throws Exception {
        BackupManifest full = main.full(1, 15);
        BackupManifest inc = main.inc(1, 0x11);
        String path = BackupPaths.Ref.of(full).urlPath();
        assertEquals(200, get(b, path, TOKEN_B).statusCode());
        Files.delete(tokenB); // the revocation: no restart
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> r = get(b, path, TOKEN_B);
            assertEquals(401, r.statusCode());
            assertTrue(r.body().contains("caller: node-b"), r.body());
        }
        assertEquals(1, logged("node-b is refused from now on").size(), serverLog.list.toString());
        assertTrue(logged("node-b is refused from now on").get(0).contains(tokenB + " does not exist"));
        try (BackupFetcher f = clone(b, TOKEN_B, tokenB, server.baseUri())) {
            assertThrows(RefusedException.class, () -> f.fetch(full, dir.resolve("clone-b")));
        }
        assertEquals(List.of(), files(dir.resolve("clone-b")));
        try (BackupFetcher f = clone(c, TOKEN_C, tokenC, server.baseUri())) {
            f.fetch(full, dir.resolve("clone-c"));
            f.fetch(inc, dir.resolve("clone-c"));
        }
        // A new token for node-b: the old one stays refused, the new one is taken at once.
        String renewed = "node-b-renewed-0123456789abcdef01234567";
        TestSecrets.write(tokenB, renewed);
        assertEquals(401, get(b, path, TOKEN_B).statusCode());
        assertEquals(200, get(b, path, renewed).statusCode());
        assertEquals(1, logged("node-b is admitted again").size(), serverLog.list.toString());
        assertEquals(1, logged("node-b is refused from now on").size(), serverLog.list.toString());
    }

    @Test
    void aMainPresentingAnUnpinnedCertificateIsRefusedByTheClone() throws Exception {
        BackupManifest full = main.full(1, 16);
        // Someone else answers with their own identity (mallory's), knowing node-b's certificate is welcome.
        try (BackupServer impostor = BackupServer.start(BackupServerSettings.loopback(main.root(), dir.resolve("own.token"))
                .withTls(mallory.keystore(), mallory.passwordFile()).withPeers(settings.peerTokens(), settings.clients()));
                BackupFetcher f = clone(b, TOKEN_B, tokenB, impostor.baseUri())) {
            RefusedException e = assertThrows(RefusedException.class, () -> f.fetch(full, dir.resolve("clone")));
            String seen = Fingerprint.of(PinnedTrust.readPem(mallory.certificate())).toString();
            assertTrue(e.getMessage().contains("the main node-a at " + impostor.baseUri()), e.getMessage());
            assertTrue(e.getMessage().contains(seen), e.getMessage());
            assertTrue(e.getMessage().contains("peers.node-a.certificate"), e.getMessage());
            assertFalse(e.getMessage().contains("after 3 attempts"), "not retried: " + e.getMessage());
        }
        assertEquals(List.of(), files(dir.resolve("clone")));
    }

    @Test
    void plainHttpBeyondLoopbackAndAnUnpinnedMainBeyondLoopbackAreRefusedBeforeConnecting() throws Exception {
        BackupManifest full = main.full(1, 17);
        // Nothing listens at 198.18.0.1 from here: the refusal comes before any connection is tried.
        TransferSettings plain = TransferSettings.of(URI.create("http://198.18.0.1:8443"), TOKEN_B);
        try (BackupFetcher f = new BackupFetcher(plain)) {
            RefusedException e = assertThrows(RefusedException.class, () -> f.fetch(full, dir.resolve("clone")));
            assertTrue(e.getMessage().contains("serves without TLS") && e.getMessage().contains("set tls on the main"),
                    e.getMessage());
        }
        TransferSettings unpinned = TransferSettings.of(URI.create("https://198.18.0.1:8443"), TOKEN_B);
        try (BackupFetcher f = new BackupFetcher(unpinned)) {
            RefusedException e = assertThrows(RefusedException.class, () -> f.fetch(full, dir.resolve("clone")));
            assertTrue(e.getMessage().contains("is not pinned") && e.getMessage().contains("peers.MAIN.fingerprint"),
                    e.getMessage());
        }
        // Plain HTTP to a pinned main is refused even on loopback: a pin that is not checked is none.
        try (BackupFetcher f = clone(b, TOKEN_B, tokenB, URI.create("http://127.0.0.1:" + server.port()))) {
            RefusedException e = assertThrows(RefusedException.class, () -> f.fetch(full, dir.resolve("clone")));
            assertTrue(e.getMessage().contains("the main node-a at http://127.0.0.1:"), e.getMessage());
        }
        assertEquals(List.of(), files(dir.resolve("clone")));
    }

    @Test
    void theAccessLogNamesTheNodeNeverTheToken() throws Exception {
        ch.qos.logback.classic.Logger access = (ch.qos.logback.classic.Logger) LoggerFactory
                .getLogger(BackupServer.class.getName() + ".access");
        ListAppender<ILoggingEvent> lines = new ListAppender<>();
        lines.start();
        access.addAppender(lines);
        BackupManifest full = main.full(1, 18);
        String path = BackupPaths.Ref.of(full).urlPath();
        try {
            get(b, path, TOKEN_B);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> lines.list.size() >= 1);
            get(c, path, TOKEN_B);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> lines.list.size() >= 2);
        } finally {
            access.detachAppender(lines);
        }
        List<String> m = lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
        assertTrue(m.get(0).contains(" node-b GET " + path + " 200 "), m.get(0));
        assertTrue(m.get(1).contains(" node-c GET " + path + " 401 "), m.get(1));
        assertTrue(m.stream().noneMatch(l -> l.contains(TOKEN_B)), m.toString());
    }

    @Test
    void configuredPinsAreWhatTheNodesUse() throws Exception {
        // The clones' side of the contract: peers.node-a pinned by fingerprint works like a certificate.
        NodeConfig.Peer byFingerprint = new NodeConfig.Peer("127.0.0.1", java.util.Optional.empty(),
                java.util.Optional.of(Fingerprint.of(PinnedTrust.readPem(a.certificate())).toString()), java.util.Optional.empty(),
                java.util.OptionalInt.empty());
        TransferSettings s = TransferSettings.of(server.baseUri(), TOKEN_B).withTokenFile(tokenB)
                .withPinnedMain("node-a", PinnedTrust.of(Map.of("node-a", byFingerprint)).only("node-a"), b.identity());
        BackupManifest full = main.full(1, 19);
        try (BackupFetcher f = new BackupFetcher(s)) {
            assertEquals(1, f.fetch(full, dir.resolve("clone")).attempts());
        }
    }
}

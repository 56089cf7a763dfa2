package io.resilientkvm.node.peer;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.TlsContexts;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.tls.Fingerprint;
import io.resilientkvm.engine.tls.PinnedTrust;
import io.resilientkvm.engine.tls.TestCertificates;
import io.resilientkvm.engine.tls.TestCertificates.NodeCert;
import io.resilientkvm.takeover.membership.Role;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The peer channel over real sockets on loopback with real keytool identities: node-a and node-b
 * pin each other; node-c is a node neither of them pins.
 */
class PeerChannelTest {
    private static final String INSTANCE = "peers";
    /** Generous timeouts for a loaded machine (a first TLS handshake there can take a second). */
    private static final PeerChannelSettings.Limits ROOMY = PeerChannelSettings.Limits.DEFAULTS
            .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(20));
    /** A short request timeout, so that a call to a silent peer ends soon; what is checked is that it ends, and how. */
    private static final PeerChannelSettings.Limits FAST = PeerChannelSettings.Limits.DEFAULTS
            .withTimeouts(Duration.ofSeconds(10), Duration.ofMillis(1500));

    @TempDir
    static Path dir;
    static NodeCert a;
    static NodeCert b;
    static NodeCert c;

    @BeforeAll
    static void identities() throws Exception {
        a = TestCertificates.node(dir, "node-a");
        b = TestCertificates.node(dir, "node-b");
        c = TestCertificates.node(dir, "node-c");
    }

    private static NodeConfig.Peer peer(NodeCert cert, int channelPort) {
        return new NodeConfig.Peer("127.0.0.1", Optional.of(cert.certificate()), Optional.empty(), Optional.empty(),
                OptionalInt.of(channelPort));
    }

    /** {@code self}'s channel settings, trusting {@code peers} (each reached at the given port). */
    private static PeerChannelSettings settings(NodeCert self, Map<String, NodeConfig.Peer> peers) throws Exception {
        return new PeerChannelSettings(self.node(), INSTANCE, "127.0.0.1", 0, self.identity(), peers, PinnedTrust.of(peers), ROOMY);
    }

    private static PeerView view(String node, Role role) {
        return new PeerView(node, INSTANCE, role, 7, List.of(new PeerView.Backup("virtio0", "20260101T000000Z", 3,
                "INC-20260101T030000Z.qcow2", "2026-01-01T03:00:00Z")));
    }

    @Test
    void twoPinnedNodesSayHelloBothWaysAndEachRequestIsAttributedToItsCaller() throws Exception {
        try (PeerChannelServer serverA = PeerChannelServer.start(settings(a, Map.of("node-b", peer(b, 1))),
                () -> view("node-a", Role.MAIN));
                PeerChannelServer serverB = PeerChannelServer.start(settings(b, Map.of("node-a", peer(a, 1))),
                        () -> view("node-b", Role.CLONE));
                PeerChannelClient fromA = PeerChannelClient.of(settings(a, Map.of("node-b", peer(b, serverB.port()))));
                PeerChannelClient fromB = PeerChannelClient.of(settings(b, Map.of("node-a", peer(a, serverA.port()))))) {
            PeerView ofB = assertInstanceOf(PeerResult.Answer.class, fromA.hello("node-b")).value() instanceof PeerView v ? v : null;
            assertEquals(view("node-b", Role.CLONE), ofB);
            PeerResult<PeerView> ofA = fromB.hello("node-a");
            assertEquals(Optional.of(view("node-a", Role.MAIN)), ofA.answer(), ofA.toString());

            // An endpoint registered later (as issue 14's acknowledge will be) sees who calls, from the certificate alone.
            record Ask(long epoch) {}
            record Told(String caller, long epoch) {}
            try (PeerChannelServer.Registration r = serverB.register("POST", "/v1/echo", Ask.class,
                    (caller, ask) -> new Told(caller.node(), ask.epoch()))) {
                assertEquals(Optional.of(new Told("node-a", 7)), fromA.post("node-b", "/v1/echo", new Ask(7), Told.class).answer());
                PeerResult<Told> wrongMethod = fromA.get("node-b", "/v1/echo", Told.class);
                assertEquals(PeerResult.Kind.REFUSED, kind(wrongMethod));
                assertTrue(message(wrongMethod).contains("405"), message(wrongMethod));
                assertThrows(IllegalStateException.class, () -> serverB.register("POST", "/v1/echo", Ask.class, (x, y) -> y));
            }
            PeerResult<Told> gone = fromA.post("node-b", "/v1/echo", new Ask(7), Told.class);
            assertEquals(PeerResult.Kind.REFUSED, kind(gone));
            assertTrue(message(gone).contains("404") && message(gone).contains("no endpoint /v1/echo"), message(gone));
            assertThrows(IllegalArgumentException.class, () -> serverB.register("GET", "/hello", Void.class, (x, y) -> y));
        }
    }

    @Test
    void aNodeThatIsNotPinnedIsRefusedAtTheHandshakeAndReachesNoHandler() throws Exception {
        AtomicInteger handled = new AtomicInteger();
        try (PeerChannelServer serverA = PeerChannelServer.start(settings(a, Map.of("node-b", peer(b, 1))), () -> {
            handled.incrementAndGet();
            return view("node-a", Role.MAIN);
        })) {
            serverA.register("POST", "/v1/acknowledge", Map.class, (caller, body) -> handled.incrementAndGet());
            // node-c pins node-a (so it trusts the server), but node-a does not pin node-c.
            try (PeerChannelClient fromC = PeerChannelClient.of(settings(c, Map.of("node-a", peer(a, serverA.port()))))) {
                PeerResult<PeerView> hello = fromC.hello("node-a");
                assertEquals(PeerResult.Kind.REFUSED, kind(hello), hello.toString());
                assertTrue(message(hello).contains("refused this node's certificate") && message(hello).contains("peers.node-c"),
                        message(hello));
                assertEquals(PeerResult.Kind.REFUSED, kind(fromC.post("node-a", "/v1/acknowledge", Map.of(), Map.class)));
            }
            // No client certificate at all: the handshake fails too.
            try (SSLSocket s = (SSLSocket) TlsContextsWithoutKey.trusting(a).getSocketFactory()
                    .createSocket(InetAddress.getLoopbackAddress(), serverA.port())) {
                s.setSoTimeout(10_000);
                OutputStream out = s.getOutputStream();
                Exception e = assertThrows(Exception.class, () -> {
                    out.write("GET /v1/hello HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    if (s.getInputStream().read() == -1) {
                        throw new java.io.EOFException("closed without an answer");
                    }
                });
                assertTrue(e instanceof java.io.IOException, e.toString());
            }
            assertEquals(0, handled.get(), "no handler ran for a node that is not pinned");
        }
    }

    @Test
    void aServerThatIsNotThePinnedNodeIsRefusedWithTheFingerprintItShowed() throws Exception {
        // node-c serves (and pins node-a, so it would accept the call); node-a believes node-b listens there.
        try (PeerChannelServer serverC = PeerChannelServer.start(settings(c, Map.of("node-a", peer(a, 1))),
                () -> view("node-c", Role.CLONE));
                PeerChannelClient fromA = PeerChannelClient.of(settings(a, Map.of("node-b", peer(b, serverC.port()))))) {
            PeerResult<PeerView> hello = fromA.hello("node-b");
            assertEquals(PeerResult.Kind.REFUSED, kind(hello), hello.toString());
            String seen = Fingerprint.of(PinnedTrust.readPem(c.certificate())).toString();
            assertTrue(message(hello).contains("node-b") && message(hello).contains(seen)
                    && message(hello).contains("peers.node-b.certificate"), message(hello));
        }
    }

    @Test
    void aPeerThatAcceptsAndNeverAnswersFailsTheCallWithinItsTimeout() throws Exception {
        // A real TLS server with node-b's identity that completes the handshake and never answers.
        javax.net.ssl.SSLContext asB = TlsContexts.mutual(b.keystore(), b.passwordFile(), "tls.keystore",
                PinnedTrust.of(Map.of("node-a", peer(a, 1))).trustManager());
        try (javax.net.ssl.SSLServerSocket silent = (javax.net.ssl.SSLServerSocket) asB.getServerSocketFactory()
                .createServerSocket(0, 8, InetAddress.getLoopbackAddress());
                PeerChannelClient fromA = PeerChannelClient.of(settings(a, Map.of("node-b", peer(b, silent.getLocalPort())))
                        .withLimits(FAST))) {
            silent.setNeedClientAuth(true);
            CompletableFuture<Socket> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    SSLSocket s = (SSLSocket) silent.accept();
                    s.startHandshake(); // and never a byte of HTTP back
                    return s;
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            PeerResult<PeerView> hello = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> fromA.hello("node-b"));
            assertEquals(PeerResult.Kind.UNREACHABLE, kind(hello), hello.toString());
            assertTrue(message(hello).contains("no answer within 1500 ms"), message(hello));
            accepted.get(30, TimeUnit.SECONDS).close();
        }
        // Accepted by the kernel, never by anyone (no TLS either): unreachable within the bounds as well.
        try (ServerSocket deaf = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
                PeerChannelClient fromA = PeerChannelClient.of(settings(a, Map.of("node-b", peer(b, deaf.getLocalPort())))
                        .withLimits(FAST))) {
            PeerResult<PeerView> hello = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> fromA.hello("node-b"));
            assertEquals(PeerResult.Kind.UNREACHABLE, kind(hello), hello.toString());
            assertTrue(message(hello).contains(" within "), message(hello));
        }
        // Nobody listens: unreachable, and said so.
        int free;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            free = s.getLocalPort();
        }
        try (PeerChannelClient fromA = PeerChannelClient.of(settings(a, Map.of("node-b", peer(b, free))))) {
            PeerResult<PeerView> hello = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> fromA.hello("node-b"));
            assertEquals(PeerResult.Kind.UNREACHABLE, kind(hello), hello.toString());
            assertTrue(message(hello).contains("cannot connect"), message(hello));
        }
    }

    @Test
    void aPinnedCallerThatStopsMidRequestIsCutOffAtTheRequestTimeout() throws Exception {
        try (PeerChannelServer serverB = PeerChannelServer.start(settings(b, Map.of("node-a", peer(a, 1))).withLimits(FAST),
                () -> view("node-b", Role.CLONE))) {
            serverB.register("POST", "/v1/announce", Map.class, (caller, body) -> body);
            try (SSLSocket s = (SSLSocket) TlsContexts.mutual(a.keystore(), a.passwordFile(), "tls.keystore",
                    PinnedTrust.of(Map.of("node-b", peer(b, 1))).trustManager()).getSocketFactory()
                    .createSocket(InetAddress.getLoopbackAddress(), serverB.port())) {
                s.setSoTimeout(30_000);
                OutputStream out = s.getOutputStream();
                out.write(("POST /v1/announce HTTP/1.1\r\nHost: node-b\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
                        .getBytes(StandardCharsets.US_ASCII));
                out.flush();
                // The rest of the body never comes: the server closes the connection at its request timeout, before the read's 30 s.
                InputStream in = s.getInputStream();
                int first = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                    try {
                        return in.read();
                    } catch (java.net.SocketException closed) {
                        return -1;
                    }
                });
                assertEquals(-1, first, "closed without an answer");
            }
        }
    }

    @Test
    void aBodyOverTheCapAndACallerOverItsConcurrentRequestsAreRefused() throws Exception {
        PeerChannelSettings.Limits one = new PeerChannelSettings.Limits(Duration.ofSeconds(10), Duration.ofSeconds(20),
                Duration.ofSeconds(30), 1024, 8, 1, 50);
        CountDownLatch inHandler = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (PeerChannelServer serverB = PeerChannelServer.start(settings(b, Map.of("node-a", peer(a, 1))).withLimits(one),
                () -> view("node-b", Role.CLONE));
                PeerChannelClient fromA = PeerChannelClient.of(settings(a, Map.of("node-b", peer(b, serverB.port()))).withLimits(one))) {
            serverB.register("POST", "/v1/slow", String.class, (caller, body) -> {
                inHandler.countDown();
                try {
                    return release.await(20, TimeUnit.SECONDS) ? "done" : "not released";
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return "interrupted";
                }
            });
            PeerResult<String> big = fromA.post("node-b", "/v1/slow", "x".repeat(2048), String.class);
            assertEquals(PeerResult.Kind.REFUSED, kind(big), message(big));
            assertTrue(message(big).contains("413") && message(big).contains("1024 bytes"), message(big));

            CompletableFuture<PeerResult<String>> first = CompletableFuture.supplyAsync(
                    () -> fromA.post("node-b", "/v1/slow", "first", String.class));
            assertTrue(inHandler.await(20, TimeUnit.SECONDS), "the first request reached its handler");
            PeerResult<PeerView> second = fromA.hello("node-b");
            assertEquals(PeerResult.Kind.REFUSED, kind(second));
            assertTrue(message(second).contains("429") && message(second).contains("node-a already has 1 requests"), message(second));
            release.countDown();
            assertEquals(Optional.of("done"), first.get(20, TimeUnit.SECONDS).answer());
            await("the slot is free again").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50))
                    .until(() -> fromA.hello("node-b").answer().isPresent());
        }
    }

    private static PeerResult.Kind kind(PeerResult<?> r) {
        return r instanceof PeerResult.Failure<?> f ? f.kind() : null;
    }

    private static String message(PeerResult<?> r) {
        return r instanceof PeerResult.Failure<?> f ? f.message() : "answered: " + r;
    }

    /** A TLS client with no key of its own, trusting the server node's certificate. */
    private static final class TlsContextsWithoutKey {
        static javax.net.ssl.SSLContext trusting(NodeCert server) throws Exception {
            javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
            ctx.init(null, new javax.net.ssl.TrustManager[] {PinnedTrust.of(Map.of(server.node(), peer(server, 1))).trustManager()},
                    null);
            return ctx;
        }
    }
}

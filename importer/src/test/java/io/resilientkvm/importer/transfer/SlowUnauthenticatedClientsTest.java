package io.resilientkvm.importer.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.backup.Sha256;
import io.resilientkvm.engine.instance.BackupServerLimits;
import io.resilientkvm.engine.secret.TestSecrets;
import io.resilientkvm.exporter.server.BackupServer;
import io.resilientkvm.exporter.server.BackupServerSettings;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Issue 12: eight slow unauthenticated connections used to take the server's eight threads and
 * stall replication. Here hostile clients (real sockets from other loopback addresses, 127.0.0.2
 * and up) hold connections that send nothing, drip header bytes or repeat a bad token, while a
 * clone's real {@link BackupFetcher} pulls a backup from 127.0.0.1. The server's limits are small
 * (a complete request head within 2 s, four connections per address): the fetch succeeds while
 * the hostile connections are held, and the server itself closes every one of them.
 */
class SlowUnauthenticatedClientsTest {
    private static final String TOKEN = "clone-token-abcdef0123456789-0123456789";
    private static final BackupServerLimits SMALL = new BackupServerLimits(Duration.ofSeconds(2), Duration.ofSeconds(20),
            4, 128, 2, Duration.ofSeconds(4));

    @TempDir
    Path dir;

    private MainRepository main;
    private BackupServer server;
    private final List<Socket> sockets = new ArrayList<>();
    private final ExecutorService readers = Executors.newCachedThreadPool();
    private final ScheduledExecutorService drip = Executors.newSingleThreadScheduledExecutor();
    private final ListAppender<ILoggingEvent> guardLog = new ListAppender<>();
    private final ListAppender<ILoggingEvent> serverLog = new ListAppender<>();

    @BeforeEach
    void setUp() throws Exception {
        Files.createDirectories(dir.resolve("work"));
        main = new MainRepository(dir.resolve("main"), dir.resolve("work"));
        Path tokenFile = TestSecrets.write(dir.resolve("token"), TOKEN);
        server = BackupServer.start(BackupServerSettings.loopback(main.root(), tokenFile).withLimits(SMALL));
        guardLog.start();
        serverLog.start();
        logger("io.resilientkvm.exporter.server.ConnectionGuard").addAppender(guardLog);
        logger(BackupServer.class.getName()).addAppender(serverLog);
    }

    @AfterEach
    void tearDown() throws IOException {
        logger("io.resilientkvm.exporter.server.ConnectionGuard").detachAppender(guardLog);
        logger(BackupServer.class.getName()).detachAppender(serverLog);
        drip.shutdownNow();
        for (Socket s : sockets) {
            s.close();
        }
        readers.shutdownNow();
        server.close();
    }

    private static Logger logger(String name) {
        return (Logger) LoggerFactory.getLogger(name);
    }

    /** A connection from {@code source} (a loopback address) to the server, with a reader waiting for the server's end. */
    private Hostile connect(String source) throws IOException {
        Socket s = new Socket();
        sockets.add(s);
        s.bind(new InetSocketAddress(source, 0));
        s.connect(new InetSocketAddress("127.0.0.1", server.port()), 5_000);
        InputStream in = s.getInputStream();
        // Started before anything can close it, so the server's FIN is seen as -1 (not a later reset).
        CompletableFuture<Integer> end = CompletableFuture.supplyAsync(() -> {
            try {
                int b;
                do {
                    b = in.read();
                } while (b >= 0);
                return b;
            } catch (IOException e) {
                return -2;
            }
        }, readers);
        return new Hostile(s, end);
    }

    private record Hostile(Socket socket, CompletableFuture<Integer> end) {
        boolean closedByServer() {
            return end.isDone() && end.join() == -1;
        }
    }

    @Test
    void silentDrippingAndBadTokenClientsDoNotDelayAClonesFetch() throws Exception {
        BackupManifest full = main.full(8, 3);
        List<Hostile> silent = new ArrayList<>();
        List<Hostile> dripping = new ArrayList<>();
        // 4 silent and 12 dripping connections from five addresses: more than the server's 8 request threads.
        for (int i = 0; i < 4; i++) {
            silent.add(connect("127.0.0.2"));
        }
        for (String source : List.of("127.0.0.3", "127.0.0.4", "127.0.0.5")) {
            for (int i = 0; i < 4; i++) {
                dripping.add(connect(source));
            }
        }
        byte[] head = ("GET " + BackupPaths.Ref.of(full).urlPath() + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
                + "a".repeat(4096)).getBytes(StandardCharsets.ISO_8859_1);
        AtomicBoolean dripping0 = new AtomicBoolean(true);
        int[] sent = new int[1];
        drip.scheduleWithFixedDelay(() -> {
            if (!dripping0.get() || sent[0] >= head.length) {
                return;
            }
            for (Hostile h : dripping) {
                try {
                    OutputStream out = h.socket().getOutputStream();
                    out.write(head[sent[0]]);
                    out.flush();
                } catch (IOException e) {
                    // This one was closed by the server; the reader records how.
                }
            }
            sent[0]++;
        }, 0, 50, TimeUnit.MILLISECONDS);
        // A client repeating a wrong token from 127.0.0.6 until the fetch is done.
        ConcurrentLinkedQueue<Integer> badTokenStatuses = new ConcurrentLinkedQueue<>();
        AtomicBoolean guessing = new AtomicBoolean(true);
        CompletableFuture<Void> guesser = CompletableFuture.runAsync(() -> {
            while (guessing.get()) {
                try {
                    badTokenStatuses.add(status(exchange("127.0.0.6", "GET " + BackupPaths.Ref.of(full).urlPath()
                            + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer wrong-" + badTokenStatuses.size()
                            + "\r\nConnection: close\r\n\r\n")));
                } catch (IOException e) {
                    badTokenStatuses.add(-1);
                }
            }
        }, readers);
        // Every hostile connection is open on the server when the fetch starts.
        for (String source : List.of("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")) {
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.openConnectionsFrom(
                    InetAddress.getByName(source)) == 4);
        }
        assertTrue(silent.stream().noneMatch(h -> h.end().isDone()) && dripping.stream().noneMatch(h -> h.end().isDone()),
                "a hostile connection was closed before the fetch started; the test would prove nothing");

        // The clone's fetch, while all of that is held.
        TransferSettings s = TransferSettings.of(server.baseUri(), TOKEN).withRetries(1, Duration.ofMillis(1),
                Duration.ofMillis(5)).withTimeouts(Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(10));
        FetchResult r;
        try (BackupFetcher f = new BackupFetcher(s, d -> { })) {
            r = f.fetch(full, dir.resolve("clone"));
        }
        assertEquals(1, r.attempts());
        assertEquals(full.sha256(), Sha256.of(r.file()));
        // The guesser's third failure onwards is held back before its 401 (never the clone's requests).
        Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> messages(serverLog).stream()
                .anyMatch(m -> m.contains("127.0.0.6") && m.contains("held back")));
        guessing.set(false);
        guesser.get(30, TimeUnit.SECONDS);
        assertTrue(badTokenStatuses.stream().allMatch(c -> c == 401), badTokenStatuses.toString());

        // The server closes every hostile connection itself (read returns -1), within its limits.
        Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> silent.stream().allMatch(Hostile::closedByServer)
                && dripping.stream().allMatch(Hostile::closedByServer));
        assertTrue(sent[0] < head.length, "the drip finished its head before the server cut it: " + sent[0]);
        dripping0.set(false);
        for (String source : List.of("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")) {
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> server.openConnectionsFrom(
                    InetAddress.getByName(source)) == 0);
        }
        List<String> warnings = messages(guardLog);
        assertTrue(warnings.stream().anyMatch(m -> m.contains("127.0.0.3") && m.contains("request-timeout-ms")),
                warnings.toString());
    }

    @Test
    void aClientAddressHoldsAtMostItsShareOfConnections() throws Exception {
        BackupManifest full = main.full(2, 1);
        List<Hostile> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(connect("127.0.0.7"));
        }
        Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> server.openConnectionsFrom(InetAddress.getByName("127.0.0.7")) == 4);
        Hostile fifth = connect("127.0.0.7");
        Awaitility.await().atMost(Duration.ofSeconds(10)).until(fifth::closedByServer);
        assertEquals(4, server.openConnectionsFrom(InetAddress.getByName("127.0.0.7")));
        assertTrue(messages(guardLog).stream().anyMatch(m -> m.contains("127.0.0.7")
                && m.contains("connections-per-address")), messages(guardLog).toString());
        // Another address is not affected: the clone is served at once, with the right token.
        assertEquals(200, status(exchange("127.0.0.1", "HEAD " + BackupPaths.Ref.of(full).urlPath()
                + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN + "\r\nConnection: close\r\n\r\n")));
        assertFalse(held.stream().anyMatch(h -> h.end().isDone() && h.end().join() != -1));
    }

    /**
     * A held 401 outlasts the request-head limit without its connection being cut (the guard knows
     * the request is in the handler), over plain HTTP and over TLS, where the guard watches the
     * TLS connection and the handler sees the HTTP one above it: three wrong tokens on one
     * keep-alive connection, held 500 ms, 1 s and 2 s against a 1 s head limit, get three 401s.
     */
    @Test
    void aHeldBack401OutlastsTheHeadLimitOverHttpAndTls() throws Exception {
        BackupManifest full = main.full(2, 1);
        BackupServerLimits limits = new BackupServerLimits(Duration.ofSeconds(1), Duration.ofSeconds(20), 4, 128, 0,
                Duration.ofSeconds(4));
        Path ks = dir.resolve("main.p12");
        MainRepository.run(List.of("keytool", "-genkeypair", "-alias", "main", "-keyalg", "EC", "-groupname",
                "secp256r1", "-dname", "CN=127.0.0.1", "-validity", "2", "-storetype", "PKCS12", "-keystore",
                ks.toString(), "-storepass", "changeit-test"));
        Path pass = TestSecrets.write(dir.resolve("keystore.pass"), "changeit-test");
        Path tokenFile = dir.resolve("token");
        for (boolean tls : new boolean[] {false, true}) {
            BackupServerSettings settings = BackupServerSettings.loopback(main.root(), tokenFile).withLimits(limits);
            try (BackupServer s = BackupServer.start(tls ? settings.withTls(ks, pass) : settings);
                    Socket raw = tls ? trustingTls().createSocket("127.0.0.1", s.port()) : new Socket("127.0.0.1", s.port())) {
                raw.setSoTimeout(30_000);
                OutputStream out = raw.getOutputStream();
                InputStream in = new java.io.BufferedInputStream(raw.getInputStream());
                for (int i = 0; i < 3; i++) {
                    out.write(("GET " + BackupPaths.Ref.of(full).urlPath() + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                            + "Authorization: Bearer wrong-" + i + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                    out.flush();
                    assertEquals(401, readKeepAliveStatus(in), (tls ? "TLS" : "HTTP") + " request " + i);
                }
            }
        }
    }

    private static javax.net.ssl.SSLSocketFactory trustingTls() throws Exception {
        javax.net.ssl.TrustManager trustAll = new javax.net.ssl.X509TrustManager() {
            @Override
            public void checkClientTrusted(java.security.cert.X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(java.security.cert.X509Certificate[] chain, String authType) {
            }

            @Override
            public java.security.cert.X509Certificate[] getAcceptedIssuers() {
                return new java.security.cert.X509Certificate[0];
            }
        };
        javax.net.ssl.SSLContext ctx = javax.net.ssl.SSLContext.getInstance("TLS");
        ctx.init(null, new javax.net.ssl.TrustManager[] {trustAll}, null);
        return ctx.getSocketFactory();
    }

    /** Reads one response (status line, headers, Content-Length body) and returns its status; -1 at the end of the stream. */
    private static int readKeepAliveStatus(InputStream in) throws IOException {
        String status = line(in);
        if (status == null) {
            return -1;
        }
        int length = 0;
        for (String h = line(in); h != null && !h.isEmpty(); h = line(in)) {
            if (h.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(h.substring(15).strip());
            }
        }
        in.readNBytes(length);
        return Integer.parseInt(status.split(" ")[1]);
    }

    private static String line(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int c = in.read(); c >= 0; c = in.read()) {
            if (c == '\n') {
                return b.toString().strip();
            }
            b.append((char) c);
        }
        return b.length() == 0 ? null : b.toString();
    }

    private static List<String> messages(ListAppender<ILoggingEvent> log) {
        return log.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }

    /** One request on a fresh connection from {@code source}; the whole answer (the server closes). */
    private byte[] exchange(String source, String request) throws IOException {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(source, 0));
            s.connect(new InetSocketAddress("127.0.0.1", server.port()), 5_000);
            s.setSoTimeout(30_000);
            s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            s.getInputStream().transferTo(all);
            return all.toByteArray();
        }
    }

    private static int status(byte[] answer) throws IOException {
        String head = new String(answer, 0, Math.min(answer.length, 64), StandardCharsets.ISO_8859_1);
        if (!head.startsWith("HTTP/1.1 ")) {
            throw new IOException("not an HTTP answer: " + head);
        }
        return Integer.parseInt(head.substring(9, 12));
    }
}

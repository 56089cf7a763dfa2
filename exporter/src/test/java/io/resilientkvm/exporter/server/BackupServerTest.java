package io.resilientkvm.exporter.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.exporter.image.QemuImg;
import io.resilientkvm.exporter.repository.JobFigures;
import io.resilientkvm.exporter.repository.PendingBackup;
import io.resilientkvm.exporter.repository.Repository;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backup server over real sockets: requests are written by hand (a raw HTTP/1.1 client) so
 * that hostile targets reach the server exactly as sent, without a client library normalising them.
 */
class BackupServerTest {
    private static final String TOKEN = "s3cret-token-0123456789-0123456789";
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private Path repoRoot;
    private BackupServer server;
    private BackupManifest full;
    private byte[] fullBytes;

    @BeforeEach
    void start() throws Exception {
        repoRoot = dir.resolve("repo");
        Clock clock = Clock.fixed(Instant.parse("2026-11-24T10:00:00Z"), ZoneOffset.UTC);
        Repository repo = new Repository(repoRoot);
        PendingBackup p = repo.begin("virtio0", Level.FULL, null, "qmpbackup-virtio0-");
        QemuImg.createFull(p.partialFile(), 16 * MIB, 65536);
        full = repo.complete(p, "vm", 16 * MIB, 1, new JobFigures(clock.instant(), clock.instant(), 0));
        fullBytes = Files.readAllBytes(repoRoot.resolve("virtio0").resolve(full.chainId()).resolve(full.file()));
        Path tokenFile = dir.resolve("token");
        io.resilientkvm.engine.secret.TestSecrets.write(tokenFile, TOKEN);
        server = BackupServer.start(BackupServerSettings.loopback(repoRoot, tokenFile));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private String path() {
        return BackupPaths.Ref.of(full).urlPath();
    }

    @Test
    void servesACompleteBackupWithTheTokenAndBoundsRanges() throws Exception {
        assertEquals("127.0.0.1", server.address().getAddress().getHostAddress());
        assertTrue(server.port() > 0);

        Reply r = get(path(), TOKEN, null);
        assertEquals(200, r.status);
        assertEquals(Long.toString(fullBytes.length), r.headers.get("content-length"));
        assertArrayEquals(fullBytes, r.body);

        Reply manifest = get(path() + ".json", TOKEN, null);
        assertEquals(200, manifest.status);
        assertEquals(full, BackupManifest.parse(new String(manifest.body, StandardCharsets.UTF_8), "served"));

        Reply head = request("HEAD", path(), TOKEN, null);
        assertEquals(200, head.status);
        assertEquals(Long.toString(fullBytes.length), head.headers.get("content-length"));
        assertEquals(0, head.body.length);

        Reply tail = get(path(), TOKEN, "bytes=1000-");
        assertEquals(206, tail.status);
        assertEquals("bytes 1000-" + (fullBytes.length - 1) + "/" + fullBytes.length, tail.headers.get("content-range"));
        assertEquals(Long.toString(fullBytes.length - 1000), tail.headers.get("content-length"));
        assertArrayEquals(Arrays.copyOfRange(fullBytes, 1000, fullBytes.length), tail.body);

        Reply middle = get(path(), TOKEN, "bytes=10-19");
        assertEquals(206, middle.status);
        assertEquals("bytes 10-19/" + fullBytes.length, middle.headers.get("content-range"));
        assertArrayEquals(Arrays.copyOfRange(fullBytes, 10, 20), middle.body);
        // An absolute-form target (which HTTP/1.1 servers must accept) is judged by its path.
        Reply absolute = get("http://127.0.0.1" + path(), TOKEN, "bytes=10-19");
        assertEquals(206, absolute.status);
        assertArrayEquals(Arrays.copyOfRange(fullBytes, 10, 20), absolute.body);

        Reply beyond = get(path(), TOKEN, "bytes=" + fullBytes.length + "-");
        assertEquals(416, beyond.status);
        assertEquals("bytes */" + fullBytes.length, beyond.headers.get("content-range"));
        assertEquals(416, get(path(), TOKEN, "bytes=20-10").status);

        Reply health = get(BackupPaths.HEALTH, null, null);
        assertEquals(200, health.status);
        assertEquals("ok\n", new String(health.body, StandardCharsets.UTF_8));
        assertEquals(405, request("DELETE", path(), TOKEN, null).status);
    }

    @Test
    void everyRequestIsLoggedOnceWithoutTheToken() throws Exception {
        ch.qos.logback.classic.Logger access = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory
                .getLogger(BackupServer.class.getName() + ".access");
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines =
                new ch.qos.logback.core.read.ListAppender<>();
        lines.start();
        access.addAppender(lines);
        try {
            // The exchange is logged after the response is sent, on the server's thread: wait for
            // each line before the next request, or two server threads may log out of order.
            get(path(), TOKEN, "bytes=0-99");
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .until(() -> lines.list.size() >= 1);
            get(path(), "wrong-" + TOKEN, null);
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .until(() -> lines.list.size() >= 2);
            get("/v1/repository/%2e%2e/x/y", TOKEN, null);
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .until(() -> lines.list.size() >= 3);
        } finally {
            access.detachAppender(lines);
        }
        List<String> messages = lines.list.stream().map(e -> e.getFormattedMessage()).toList();
        assertEquals(3, messages.size(), messages.toString());
        assertTrue(messages.get(0).contains("GET " + path() + " 206 100 "), messages.get(0));
        assertTrue(messages.get(1).contains(" 401 "), messages.get(1));
        assertTrue(messages.get(2).contains(" 400 "), messages.get(2));
        assertTrue(messages.stream().noneMatch(m -> m.contains(TOKEN)), messages.toString());
    }

    @Test
    void aMissingOrWrongTokenGets401AndNoData() throws Exception {
        for (String token : new String[] {null, "wrong", TOKEN + "x", TOKEN.substring(1), ""}) {
            Reply r = get(path(), token, null);
            assertEquals(401, r.status, "token " + token);
            assertEquals("Bearer realm=\"resilient-kvm\", error=\"invalid_token\", error_description=\"a valid bearer token is required"
                    + " (caller: unknown)\"", r.headers.get("www-authenticate"));
            assertFalse(contains(r.body, Arrays.copyOf(fullBytes, 64)), "no backup data in a 401");
        }
        // The scheme must be Bearer.
        Reply basic = rawExchange("GET " + path() + " HTTP/1.1\r\nHost: x\r\nAuthorization: Basic " + TOKEN
                + "\r\nConnection: close\r\n\r\n");
        assertEquals(401, basic.status);
    }

    @Test
    void traversalAndHiddenFilesAreRefusedWithNothingServed() throws Exception {
        Path chainDir = repoRoot.resolve("virtio0").resolve(full.chainId());
        Path secret = dir.resolve("outside.qcow2");
        Files.writeString(secret, "SECRET-OUTSIDE-THE-REPOSITORY");
        String stamp = "20261124T100000.000Z";
        // A symlink in the repository pointing outside, with a manifest so only the real-path check stops it.
        Path link = chainDir.resolve("INC-20261124T110000.000Z.qcow2");
        Files.createSymbolicLink(link, secret);
        Files.writeString(BackupManifest.manifestPath(link), "{}");
        // A chain folder that is a symlink to a folder outside.
        Path outsideChain = dir.resolve("outside-chain");
        Files.createDirectories(outsideChain);
        Files.writeString(outsideChain.resolve("FULL-" + stamp + ".qcow2"), "SECRET-OUTSIDE-THE-REPOSITORY");
        Files.writeString(outsideChain.resolve("FULL-" + stamp + ".qcow2.json"), "SECRET-OUTSIDE-THE-REPOSITORY");
        Files.createSymbolicLink(repoRoot.resolve("virtio0").resolve("20261124T120000.000Z"), outsideChain);
        // A partial and a file without a manifest.
        Files.writeString(chainDir.resolve("INC-20261124T130000.000Z.qcow2.partial"), "SECRET-PARTIAL");
        Files.writeString(chainDir.resolve("INC-20261124T140000.000Z.qcow2"), "SECRET-NO-MANIFEST");

        String base = "/v1/repository/virtio0/" + full.chainId() + "/";
        Map<String, Integer> attempts = new LinkedHashMap<>();
        attempts.put("/v1/repository/virtio0/../../../outside.qcow2", 400);
        attempts.put("/v1/repository/virtio0/" + full.chainId() + "/../../../outside.qcow2", 400);
        attempts.put("/v1/repository/%2e%2e/%2e%2e/outside.qcow2", 400);
        attempts.put("/v1/repository/virtio0/%2e%2e/" + full.file(), 400);
        attempts.put("/v1/repository/virtio0%2F" + full.chainId() + "/" + full.file(), 400);
        attempts.put("/v1/repository/virtio0/" + full.chainId() + "%2F" + full.file(), 400);
        attempts.put(base + full.file() + "%00", 400);
        attempts.put("//etc/passwd", 400);
        attempts.put("/etc/passwd", 400);
        attempts.put(dir.resolve("outside.qcow2").toString(), 400);
        attempts.put("/v1/repository//virtio0/" + full.chainId() + "/" + full.file(), 400);
        attempts.put("/v1/repository/virtio0/" + full.chainId() + "/" + full.file() + "?x=1", 400);
        attempts.put("http://127.0.0.1/../../etc/passwd", 400);
        attempts.put(base + "INC-20261124T130000.000Z.qcow2.partial", 400);
        attempts.put(base + "INC-20261124T110000.000Z.qcow2", 404);
        attempts.put(base + "INC-20261124T110000.000Z.qcow2.json", 404);
        attempts.put("/v1/repository/virtio0/20261124T120000.000Z/FULL-" + stamp + ".qcow2", 404);
        attempts.put("/v1/repository/virtio0/20261124T120000.000Z/FULL-" + stamp + ".qcow2.json", 404);
        attempts.put(base + "INC-20261124T140000.000Z.qcow2", 404);
        attempts.put(base + "INC-20261124T150000.000Z.qcow2", 404);
        attempts.put("/v1/repository/virtio1/" + full.chainId() + "/" + full.file(), 404);
        for (var e : attempts.entrySet()) {
            Reply r = get(e.getKey(), TOKEN, null);
            assertEquals((int) e.getValue(), r.status, e.getKey());
            String body = new String(r.body, StandardCharsets.UTF_8);
            assertFalse(body.contains("SECRET"), e.getKey() + " served: " + body);
            assertFalse(contains(r.body, Arrays.copyOf(fullBytes, 64)), e.getKey() + " served backup data");
        }
        // The same hostile paths unauthenticated: 401 first, so nothing can be probed.
        assertEquals(401, get("/v1/repository/virtio0/../../../outside.qcow2", null, null).status);
    }

    @Test
    void settingsAreCheckedBeforeListening() throws Exception {
        Path empty = dir.resolve("empty-token");
        Files.writeString(empty, "\n");
        assertThrows(BadInputException.class,
                () -> BackupServer.start(BackupServerSettings.loopback(repoRoot, empty)).close());
        assertThrows(BadInputException.class,
                () -> BackupServer.start(BackupServerSettings.loopback(repoRoot, dir.resolve("no-such-file"))).close());
        assertThrows(IllegalStateException.class, () -> new BackupServerSettings("127.0.0.1", 0, repoRoot,
                empty, java.util.Optional.of(empty), java.util.Optional.empty(), 4));
        assertThrows(IllegalArgumentException.class, () -> new BackupServerSettings("127.0.0.1", 70000, repoRoot,
                empty, java.util.Optional.empty(), java.util.Optional.empty(), 4));
        var noToken = new io.resilientkvm.engine.instance.NodeConfig.BackupServer("127.0.0.1", 0,
                java.util.Optional.empty(), java.util.Optional.empty(), java.util.Optional.empty());
        BadInputException e = assertThrows(BadInputException.class, () -> BackupServerSettings.from(noToken, repoRoot));
        assertTrue(e.getMessage().contains("backup-server.token-file"), e.getMessage());
        server.close();
        server.close(); // idempotent
    }

    private static boolean contains(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private Reply get(String target, String token, String range) throws IOException {
        return request("GET", target, token, range);
    }

    private Reply request(String method, String target, String token, String range) throws IOException {
        StringBuilder req = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        if (token != null) {
            req.append("Authorization: Bearer ").append(token).append("\r\n");
        }
        if (range != null) {
            req.append("Range: ").append(range).append("\r\n");
        }
        req.append("Connection: close\r\n\r\n");
        Reply r = rawExchange(req.toString());
        if ("HEAD".equals(method)) {
            return new Reply(r.status, r.headers, new byte[0], r.body.length);
        }
        return r;
    }

    /** Status, lower-cased headers and body (read to the end: the server closes). */
    record Reply(int status, Map<String, String> headers, byte[] body, int extra) {
    }

    private Reply rawExchange(String request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write(request.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            in.transferTo(all);
            byte[] bytes = all.toByteArray();
            int end = indexOf(bytes, "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            if (end < 0) {
                throw new IOException("no HTTP response head in " + bytes.length + " bytes");
            }
            String[] lines = new String(bytes, 0, end, StandardCharsets.ISO_8859_1).split("\r\n");
            int status = Integer.parseInt(lines[0].split(" ")[1]);
            Map<String, String> headers = new LinkedHashMap<>();
            for (int i = 1; i < lines.length; i++) {
                int c = lines[i].indexOf(':');
                headers.put(lines[i].substring(0, c).strip().toLowerCase(Locale.ROOT), lines[i].substring(c + 1).strip());
            }
            byte[] body = Arrays.copyOfRange(bytes, end + 4, bytes.length);
            return new Reply(status, headers, body, 0);
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}

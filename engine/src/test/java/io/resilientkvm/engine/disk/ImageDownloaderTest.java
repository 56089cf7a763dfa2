package io.resilientkvm.engine.disk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class ImageDownloaderTest {
    /** Several buffers' worth, and not a multiple of the buffer size. */
    private static final byte[] IMAGE = randomBytes(5 * ImageDownloader.BUFFER_SIZE + 123);
    private static final byte[] IMAGE_GZ = gzip(IMAGE);

    @TempDir
    Path dir;

    private HttpServer server;
    private final java.util.concurrent.atomic.AtomicInteger imageRequests = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.CountDownLatch released = new java.util.concurrent.CountDownLatch(1);
    private final ImageDownloader downloader = new ImageDownloader(Duration.ofSeconds(10), Duration.ofSeconds(10));

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        serveImages(server);
        server.start();
    }

    @AfterEach
    void stopServer() {
        released.countDown();
        server.stop(0);
    }

    @Test
    void downloadsOverHttpAndChecksMd5CaseInsensitively() throws Exception {
        Path target = dir.resolve("disk.img");
        String expected = md5(IMAGE).toUpperCase(Locale.ROOT);

        String actual = downloader.download(new ImageDownloader.Source(url("/image"), expected, false, true), target);

        assertEquals(md5(IMAGE), actual);
        assertArrayEquals(IMAGE, Files.readAllBytes(target));
        assertEquals(List.of(target), listDir());
    }

    @Test
    void md5MismatchIsRetriedFourTimesThenLeavesNothingAndNamesUrlExpectedAndActual() throws Exception {
        Path target = dir.resolve("disk.img");
        String wrong = "0123456789abcdef0123456789abcdef";

        OperationFailedException e = assertThrows(OperationFailedException.class,
                () -> downloader.download(new ImageDownloader.Source(url("/image"), wrong, false, true), target));

        assertTrue(e.getMessage().startsWith("Checksum is incorrect after 4 tries, will not retry"), e.getMessage());
        assertEquals(4, imageRequests.get(), "the seed system's four tries");
        assertTrue(e.getMessage().contains(url("/image").toString()), e.getMessage());
        assertTrue(e.getMessage().contains(wrong), e.getMessage());
        assertTrue(e.getMessage().contains(md5(IMAGE)), e.getMessage());
        assertEquals(List.of(), listDir(), "neither the target nor the partial file may remain");
    }

    @Test
    void gunzipsWhileStreamingAndChecksTheMd5OfTheCompressedBytes() throws Exception {
        Path target = dir.resolve("disk.img");

        String actual = downloader.download(
                new ImageDownloader.Source(url("/image.gz"), md5(IMAGE_GZ), true, true), target);

        assertEquals(md5(IMAGE_GZ), actual);
        assertArrayEquals(IMAGE, Files.readAllBytes(target));
    }

    @Test
    void notFoundIsAClearError() throws Exception {
        Path target = dir.resolve("disk.img");

        OperationFailedException e = assertThrows(OperationFailedException.class,
                () -> downloader.download(ImageDownloader.Source.of(url("/missing")), target));

        assertTrue(e.getMessage().contains("HTTP 404"), e.getMessage());
        assertTrue(e.getMessage().contains(url("/missing").toString()), e.getMessage());
        assertEquals(List.of(), listDir());
    }

    @Test
    void followsRedirects() throws Exception {
        Path target = dir.resolve("disk.img");

        downloader.download(ImageDownloader.Source.of(url("/redirect")), target);

        assertArrayEquals(IMAGE, Files.readAllBytes(target));
    }

    @Test
    void checksTheSha256BesideTheMd5() throws Exception {
        Path target = dir.resolve("disk.img");
        downloader.download(new ImageDownloader.Source(url("/image"), md5(IMAGE), sha256(IMAGE), false, true), target);
        assertArrayEquals(IMAGE, Files.readAllBytes(target));

        Path other = dir.resolve("other.img");
        String wrong = "ab".repeat(32);
        OperationFailedException e = assertThrows(OperationFailedException.class, () -> downloader.download(
                new ImageDownloader.Source(url("/image"), md5(IMAGE), wrong, false, true), other));
        assertTrue(e.getMessage().contains("SHA-256 mismatch: expected " + wrong + ", got " + sha256(IMAGE)), e.getMessage());
        assertFalse(Files.exists(other));
    }

    @Test
    void fileUrlsAreRefusedUnlessTheNodeAllowsTheirDirectory() throws Exception {
        Path source = dir.resolve("source.img");
        Files.write(source, IMAGE);
        Path target = dir.resolve("disk.img");

        RefusedException none = assertThrows(RefusedException.class,
                () -> downloader.download(ImageDownloader.Source.of(source.toUri()), target));
        assertTrue(none.getMessage().contains("downloads.file-roots"), none.getMessage());

        // A link inside an allowed folder to a file outside it: resolved, then refused.
        Path allowed = Files.createDirectories(dir.resolve("images"));
        Path link = Files.createSymbolicLink(allowed.resolve("link.img"), source);
        RefusedException outside = assertThrows(RefusedException.class,
                () -> allowing(allowed).download(ImageDownloader.Source.of(link.toUri()), target));
        assertTrue(outside.getMessage().contains("(resolving to " + source.toRealPath() + ") is outside downloads.file-roots"),
                outside.getMessage());
        assertFalse(Files.exists(target));
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aFifoInAnAllowedFolderIsNeverOpened() throws Exception {
        Path allowed = Files.createDirectories(dir.resolve("images"));
        Path fifo = io.resilientkvm.engine.testing.ForgedImage.fifo(allowed.resolve("pipe.img"));
        Path target = dir.resolve("disk.img");

        RefusedException e = assertThrows(RefusedException.class,
                () -> allowing(allowed).download(ImageDownloader.Source.of(fifo.toUri()), target));

        assertTrue(e.getMessage().contains(fifo.toRealPath() + " is not a regular file"), e.getMessage());
        assertFalse(Files.exists(target));
    }

    @Test
    void anAnnouncedLengthAboveTheCapIsRefusedBeforeReading() throws Exception {
        Path target = dir.resolve("disk.img");
        ImageDownloader capped = new ImageDownloader(Duration.ofSeconds(10), Duration.ofSeconds(10),
                new DownloadLimits(IMAGE.length - 1, Duration.ofMinutes(1), List.of()));

        RefusedException e = assertThrows(RefusedException.class,
                () -> capped.download(ImageDownloader.Source.of(url("/image")), target));

        assertTrue(e.getMessage().contains("announces " + IMAGE.length + " bytes"), e.getMessage());
        assertEquals(List.of(), listDir());
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aTricklingServerIsCutAtTheOverallDeadline() throws Exception {
        Path target = dir.resolve("disk.img");
        // Per-read timeout far beyond the deadline: only the deadline can end this download.
        ImageDownloader bounded = new ImageDownloader(Duration.ofSeconds(10), Duration.ofMinutes(10),
                new DownloadLimits(DownloadLimits.DEFAULT_MAX_BYTES, Duration.ofSeconds(1), List.of()));

        OperationFailedException e = assertThrows(OperationFailedException.class,
                () -> bounded.download(ImageDownloader.Source.of(url("/trickle")), target));

        assertTrue(e.getMessage().contains("did not finish within 1 s (downloads.deadline-seconds"), e.getMessage());
        assertEquals(List.of(), listDir(), "the partial file is removed");
    }

    @Test
    void downloadsFileUrls() throws Exception {
        Path source = dir.resolve("source.img.gz");
        Files.write(source, IMAGE_GZ);
        Path target = dir.resolve("disk.img");

        String actual = allowing(dir).download(
                new ImageDownloader.Source(source.toUri(), md5(IMAGE_GZ), true, true), target);

        assertEquals(md5(IMAGE_GZ), actual);
        assertArrayEquals(IMAGE, Files.readAllBytes(target));
    }

    @Test
    void missingFileUrlIsAClearError() {
        Path target = dir.resolve("disk.img");
        Path missing = dir.resolve("nope.img");

        OperationFailedException e = assertThrows(OperationFailedException.class,
                () -> allowing(dir).download(ImageDownloader.Source.of(missing.toUri()), target));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        assertFalse(Files.exists(target));
    }

    @Test
    void rejectsOtherSchemes() {
        Path target = dir.resolve("disk.img");

        BadInputException e = assertThrows(BadInputException.class, () -> downloader.download(
                ImageDownloader.Source.of(URI.create("ftp://127.0.0.1/disk.img")), target));
        assertTrue(e.getMessage().contains("ftp"), e.getMessage());
        assertFalse(Files.exists(target));
    }

    @Test
    void rejectsAMalformedMd5BeforeDownloading() {
        Path target = dir.resolve("disk.img");

        BadInputException e = assertThrows(BadInputException.class, () -> downloader.download(
                new ImageDownloader.Source(url("/image"), "not-an-md5", false, true), target));
        assertTrue(e.getMessage().contains("not-an-md5"), e.getMessage());
        assertFalse(Files.exists(target));
    }

    @Test
    void refusesToOverwriteAnExistingTarget() throws Exception {
        Path target = dir.resolve("disk.img");
        Files.writeString(target, "marker");

        assertThrows(RefusedException.class, () -> downloader.download(ImageDownloader.Source.of(url("/image")), target));
        assertEquals("marker", Files.readString(target));
    }

    @Test
    void httpsChecksCertificatesUnlessDisabled() throws Exception {
        char[] password = "changeit".toCharArray();
        Path keystore = dir.resolve("server.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-keyalg", "RSA", "-keysize", "2048", "-alias", "server", "-dname", "CN=example.invalid",
                "-validity", "2", "-storetype", "PKCS12", "-keystore", keystore.toString(),
                "-storepass", "changeit", "-keypass", "changeit").redirectErrorStream(true).start();
        String output = new String(keytool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(keytool.waitFor(60, TimeUnit.SECONDS), "keytool hung");
        assertEquals(0, keytool.exitValue(), output);
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            store.load(in, password);
        }
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(store, password);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(keys.getKeyManagers(), null, null);
        HttpsServer https = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        https.setHttpsConfigurator(new HttpsConfigurator(tls));
        serveImages(https);
        https.start();
        try {
            URI url = URI.create("https://127.0.0.1:" + https.getAddress().getPort() + "/image");
            Path checked = dir.resolve("checked.img");
            OperationFailedException e = assertThrows(OperationFailedException.class,
                    () -> downloader.download(ImageDownloader.Source.of(url), checked));
            assertTrue(e.getMessage().contains(url.toString()), e.getMessage());
            assertFalse(Files.exists(checked));

            Path unchecked = dir.resolve("unchecked.img");
            downloader.download(new ImageDownloader.Source(url, md5(IMAGE), false, false), unchecked);
            assertArrayEquals(IMAGE, Files.readAllBytes(unchecked));
        } finally {
            https.stop(0);
        }
    }

    @Test
    void redactsPasswordsInUrls() {
        String redacted = ImageDownloader.redact(URI.create("https://user:secret@example.invalid/disk.img"));
        assertFalse(redacted.contains("secret"), redacted);
        assertTrue(redacted.contains("example.invalid/disk.img"), redacted);
    }

    /** A downloader that allows file: URLs under {@code root}. */
    private static ImageDownloader allowing(Path root) {
        return new ImageDownloader(Duration.ofSeconds(10), Duration.ofSeconds(10),
                new DownloadLimits(DownloadLimits.DEFAULT_MAX_BYTES, Duration.ofMinutes(1), List.of(root)));
    }

    private URI url(String path) {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
    }

    private List<Path> listDir() throws IOException {
        try (var files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }

    private void serveImages(HttpServer httpServer) {
        httpServer.createContext("/", exchange -> {
            try (exchange) {
                switch (exchange.getRequestURI().getPath()) {
                    case "/image" -> {
                        imageRequests.incrementAndGet();
                        send(exchange, 200, IMAGE);
                    }
                    case "/trickle" -> {
                        exchange.sendResponseHeaders(200, IMAGE.length);
                        OutputStream out = exchange.getResponseBody();
                        out.write(IMAGE, 0, 1);
                        out.flush();
                        // Then nothing until the test ends: the client must give up on its own.
                        try {
                            released.await(60, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    case "/image.gz" -> send(exchange, 200, IMAGE_GZ);
                    case "/redirect" -> {
                        exchange.getResponseHeaders().add("Location", "/image");
                        exchange.sendResponseHeaders(302, -1);
                    }
                    default -> send(exchange, 404, "not found".getBytes(StandardCharsets.UTF_8));
                }
            }
        });
    }

    private static void send(HttpExchange exchange, int status, byte[] body) throws IOException {
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    private static byte[] randomBytes(int size) {
        byte[] bytes = new byte[size];
        new Random(7).nextBytes(bytes);
        return bytes;
    }

    private static byte[] gzip(byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    private static String sha256(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
    }

    private static String md5(byte[] data) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(data));
    }
}

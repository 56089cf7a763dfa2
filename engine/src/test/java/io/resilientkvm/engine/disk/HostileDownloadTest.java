package io.resilientkvm.engine.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.image.UntrustedImageException;
import io.resilientkvm.engine.testing.ForgedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile images served over loopback HTTP to {@link DiskProvisioner}, built with real qemu-img
 * and edited bytes. Each names a FIFO where it names a host file: opening it would block, so a
 * test that ends within its {@link Timeout} proves nothing followed the reference.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HostileDownloadTest {
    private static final long MIB = 1024 * 1024;

    @TempDir
    Path dir;

    private final QemuImg qemuImg = new QemuImg("qemu-img", Duration.ofSeconds(60));
    private final Map<String, byte[]> served = new ConcurrentHashMap<>();
    private HttpServer server;
    private Path fifo;
    private Path data;

    @BeforeEach
    void start() throws Exception {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            try (exchange) {
                String path = exchange.getRequestURI().getPath();
                if (path.equals("/to-file")) {
                    exchange.getResponseHeaders().add("Location", "file:///etc/passwd");
                    exchange.sendResponseHeaders(302, -1);
                    return;
                }
                byte[] body = served.get(path);
                if (body == null) {
                    exchange.sendResponseHeaders(404, -1);
                    return;
                }
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        });
        server.start();
        Path host = Files.createDirectories(dir.resolve("host"));
        fifo = ForgedImage.fifo(host.resolve("secret"));
        data = dir.resolve("srv");
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    @Test
    void aVmdkDescriptorWithAFlatExtentAtAHostPathIsRefused() throws Exception {
        Path vmdk = dir.resolve("flat.vmdk");
        ForgedImage.qemuImg("create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", vmdk.toString(), "1M");
        String descriptor = Files.readString(vmdk, StandardCharsets.ISO_8859_1);
        String forged = descriptor.replaceAll("FLAT \"[^\"]*\" 0", "FLAT \"" + fifo + "\" 0");
        assertTrue(forged.contains("FLAT \"" + fifo + "\" 0"), forged);
        served.put("/flat.vmdk", forged.getBytes(StandardCharsets.ISO_8859_1));

        UntrustedImageException e = refused("/flat.vmdk", UntrustedImageException.class);

        assertTrue(e.getMessage().contains("a VMDK descriptor, whose extents name FLAT '" + fifo + "' (an absolute host path)"),
                e.getMessage());
    }

    @Test
    void aQcow2WithAnExternalDataFileIsRefused() throws Exception {
        Path image = dir.resolve("data-file.qcow2");
        Path external = dir.resolve("host/data.raw");
        qemuImg.create(image, "qcow2", MIB, Map.of("data_file", external.toString()));
        // The header names what qemu-img created; that name is now a FIFO.
        Files.delete(external);
        ForgedImage.fifo(external);
        served.put("/data-file.qcow2", Files.readAllBytes(image));

        UntrustedImageException e = refused("/data-file.qcow2", UntrustedImageException.class);

        assertTrue(e.getMessage().contains("external data file '" + external + "'"), e.getMessage());
    }

    @Test
    void aQcow2WithABackingFileAtAHostPathIsRefused() throws Exception {
        Path image = dir.resolve("backed.qcow2");
        ForgedImage.qemuImg("create", "-q", "-f", "qcow2", "-b", fifo.toString(), "-F", "raw", "-u", image.toString(), "1M");
        served.put("/backed.qcow2", Files.readAllBytes(image));

        UntrustedImageException e = refused("/backed.qcow2", UntrustedImageException.class);

        assertTrue(e.getMessage().contains("its backing file is '" + fifo + "' (an absolute host path)"), e.getMessage());
    }

    @Test
    void aGzipBombStopsAtTheCapAndLeavesNoPartialFile() throws Exception {
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
            byte[] zeros = new byte[(int) MIB];
            for (int i = 0; i < 64; i++) {
                out.write(zeros);
            }
        }
        served.put("/bomb.img.gz", gz.toByteArray());
        assertTrue(gz.size() < MIB, "the bomb is small on the wire: " + gz.size());

        RefusedException e = refused("/bomb.img.gz", RefusedException.class);

        assertTrue(e.getMessage().contains("gunzipped from " + url("/bomb.img.gz") + ": more than " + 4 * MIB
                + " bytes (downloads.max-bytes"), e.getMessage());
    }

    @Test
    void aRedirectToAFileUrlIsRefusedNotFollowed() throws Exception {
        RefusedException e = refused("/to-file", RefusedException.class);

        assertTrue(e.getMessage().contains(url("/to-file") + ": refusing the redirect to file:///etc/passwd (a 'file:' URL)"),
                e.getMessage());
    }

    @Test
    void aPlainQcow2IsStillAccepted() throws Exception {
        Path image = dir.resolve("plain.qcow2");
        qemuImg.create(image, "qcow2", 2 * MIB);
        served.put("/plain.qcow2", Files.readAllBytes(image));

        DiskProvisioner.Provisioned result = provisioner().provision(request("/plain.qcow2"));

        assertEquals("qcow2", result.mainDisk().format());
        assertEquals(2 * MIB, qemuImg.info(result.mainDisk().file()).virtualSize());
    }

    private <E extends Exception> E refused(String path, Class<E> type) throws Exception {
        DiskProvisioner.Request request = request(path);
        E e = assertThrows(type, () -> provisioner().provision(request));
        assertTrue(e.getMessage().contains(url(path).toString()), e.getMessage());
        try (var files = Files.list(data)) {
            assertEquals(List.of(), files.toList(), "nothing of the refused image may stay behind");
        }
        return e;
    }

    private DiskProvisioner provisioner() {
        return new DiskProvisioner(qemuImg, new ImageDownloader(Duration.ofSeconds(10), Duration.ofSeconds(10),
                new DownloadLimits(4 * MIB, Duration.ofMinutes(1), List.of())));
    }

    private DiskProvisioner.Request request(String path) {
        return new DiskProvisioner.Request(dir, data, new MainDisk(data.resolve("virtual.qcow2"), 20 * MIB, "qcow2"),
                new ImageDownloader.Source(url(path), null, null, path.endsWith(".gz"), true), null, null);
    }

    private URI url(String path) {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
    }
}

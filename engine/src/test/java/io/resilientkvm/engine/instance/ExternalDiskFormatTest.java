package io.resilientkvm.engine.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.resilientkvm.engine.disk.DataDiskRegistry;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.image.UntrustedImageException;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.engine.process.QemuProcess;
import io.resilientkvm.engine.process.RestartPolicy;
import io.resilientkvm.engine.testing.ForgedImage;
import java.nio.channels.FileChannel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * An external disk's format is fixed at first attach and recorded; a guest that writes a qcow2
 * header onto its raw disk, backing file a host FIFO, still gets a raw disk at the next start, and
 * nothing opens the FIFO (the test would hang past its {@link Timeout}).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ExternalDiskFormatTest {
    private static final long MIB = 1024 * 1024;

    @TempDir
    Path dir;

    private final QemuImg qemuImg = new QemuImg("qemu-img", Duration.ofSeconds(60));

    @Test
    void aRawDiskWhoseGuestWroteAQcow2HeaderWithABackingFileStaysRaw() throws Exception {
        Path disk = dir.resolve("data.raw");
        qemuImg.create(disk, "raw", 4 * MIB);
        KvmParameters p = params(disk, null);
        String node = p.externalDisks().get(0).deviceId();
        InstanceLayout layout = new InstanceLayout(dir.resolve("kvm"));

        try (KvmInstance first = KvmInstance.prepare("kvm", p, VmHost.loopback(), layout)) {
            assertEquals("raw", driverOf(first.argv(), node));
        }
        assertEquals("data raw\n", Files.readString(new DataDiskRegistry(layout.root()).formatsFile(), StandardCharsets.UTF_8));

        // What a guest can do to its raw disk: put a qcow2 header on it, naming a host file as backing.
        Path fifo = ForgedImage.fifo(dir.resolve("host-secret"));
        Path header = dir.resolve("header.qcow2");
        ForgedImage.qemuImg("create", "-q", "-f", "qcow2", "-b", fifo.toString(), "-F", "raw", "-u", header.toString(), "4M");
        try (FileChannel ch = FileChannel.open(disk, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(Files.readAllBytes(header)), 0);
            ch.force(true);
        }
        assertEquals(fifo.toString(), io.resilientkvm.engine.image.QcowHeader.read(disk).backingFile(),
                "the disk now starts with a qcow2 header naming the FIFO");

        try (KvmInstance second = KvmInstance.prepare("kvm", p, VmHost.loopback(), layout)) {
            assertEquals("raw", driverOf(second.argv(), node), "the recorded format, never a probe");
            QemuProcess qemu = second.start(RestartPolicy.NEVER).current().orElseThrow();
            JsonNode inserted = null;
            for (JsonNode b : qemu.qmp().execute("query-block")) {
                if (b.path("qdev").asText().contains(node)) {
                    inserted = b.path("inserted");
                }
            }
            assertTrue(inserted != null, "the disk is attached");
            assertEquals("raw", inserted.path("drv").asText(), inserted.toString());
            assertEquals(4 * MIB, inserted.path("image").path("virtual-size").asLong(), inserted.toString());
            assertTrue(inserted.path("backing_file").isMissingNode(), inserted.toString());
        }

        // Declaring another format now is refused: the disk keeps the one it was first attached with.
        RefusedException e = assertThrows(RefusedException.class,
                () -> KvmInstance.prepare("kvm", params(disk, "qcow2"), VmHost.loopback(), layout));
        assertTrue(e.getMessage().contains("first attached as raw"), e.getMessage());
    }

    @Test
    void aQcow2ExternalDiskIsCheckedBeforeEveryStart() throws Exception {
        Path disk = dir.resolve("data.qcow2");
        qemuImg.create(disk, "qcow2", 4 * MIB);
        KvmParameters p = params(disk, null);
        InstanceLayout layout = new InstanceLayout(dir.resolve("kvm"));
        try (KvmInstance first = KvmInstance.prepare("kvm", p, VmHost.loopback(), layout)) {
            assertEquals("qcow2", driverOf(first.argv(), p.externalDisks().get(0).deviceId()));
        }

        Path fifo = ForgedImage.fifo(dir.resolve("host-secret"));
        ForgedImage.of(disk).backing(fifo.toString()).backingFormat("raw").write();

        UntrustedImageException e = assertThrows(UntrustedImageException.class,
                () -> KvmInstance.prepare("kvm", p, VmHost.loopback(), layout));
        assertTrue(e.getMessage().startsWith("external-disk 'data'"), e.getMessage());
        assertTrue(e.getMessage().contains("backing file is '" + fifo + "', which is not a backup in a chain folder of "
                + layout.backupRepository().resolve(p.externalDisks().get(0).deviceId())), e.getMessage());
        assertTrue(e.getMessage().contains("nothing was opened"), e.getMessage());
    }

    /** A promoted clone's external disk is an instant overlay on its restored chain: accepted, and pinned. */
    @Test
    void aQcow2ExternalDiskMayBeAnOverlayOnItsRestoredChainOnly() throws Exception {
        Path disk = dir.resolve("data.qcow2");
        KvmParameters p = params(disk, null);
        InstanceLayout layout = new InstanceLayout(dir.resolve("kvm"));
        String device = p.externalDisks().get(0).deviceId();
        Path full = Files.createDirectories(layout.backupRepository().resolve(device).resolve("20261201T100000.000Z"))
                .resolve("FULL-20261201T100000.000Z.qcow2");
        qemuImg.create(full, "qcow2", 4 * MIB);
        ForgedImage.qemuImg("create", "-q", "-f", "qcow2", "-b", full.toString(), "-F", "qcow2", disk.toString(), "4M");
        try (KvmInstance first = KvmInstance.prepare("kvm", p, VmHost.loopback(), layout)) {
            assertEquals("qcow2", driverOf(first.argv(), device), "probed once at first attach, in Java");
            assertTrue(String.join(" ", first.argv()).contains(full.toString()), "the restored chain is pinned as a node");
        }
    }

    private static KvmParameters params(Path disk, String format) throws Exception {
        return KvmInstanceQemuTest.params("{\"ram-size\": 256, \"disk-size\": 1, \"use-tap\": false, \"external-disk\": {\"data\":"
                + " {\"path\": \"" + disk + "\"" + (format == null ? "" : ", \"format\": \"" + format + "\"") + "}}}");
    }

    /** The driver of the format node {@code node} on the QEMU command line. */
    private static String driverOf(List<String> argv, String node) throws Exception {
        for (String a : argv) {
            if (a.startsWith("{") && a.contains("\"node-name\":\"" + node + "\"")) {
                return new com.fasterxml.jackson.databind.ObjectMapper().readTree(a).path("driver").asText();
            }
        }
        throw new AssertionError("no -blockdev for " + node + " in " + argv);
    }
}

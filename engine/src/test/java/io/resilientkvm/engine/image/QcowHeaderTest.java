package io.resilientkvm.engine.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.image.ImageInspector.Expected;
import io.resilientkvm.engine.testing.ForgedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The header reader on images qemu-img made (qcow2 v2 and v3, with and without backing, with a data file). */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class QcowHeaderTest {
    private static final long MIB = 1024 * 1024;

    @TempDir
    Path dir;

    @Test
    void readsVersion3WithoutBacking() throws Exception {
        Path f = qemuImg("v3.qcow2", "-f", "qcow2", "-o", "compat=1.1,cluster_size=65536");
        QcowHeader h = QcowHeader.read(f);
        assertEquals(3, h.version());
        assertEquals(16, h.clusterBits());
        assertEquals(32 * MIB, h.virtualSize());
        assertTrue(h.headerLength() >= 104, "header length " + h.headerLength());
        assertNull(h.backingFile());
        assertNull(h.dataFile());
        assertEquals(0, h.incompatibleFeatures() & QcowHeader.EXTERNAL_DATA_FILE);
        assertEquals(h, ImageInspector.inspect(f, Expected.standalone(32 * MIB)));
    }

    @Test
    void readsVersion2WithBackingAndItsFormat() throws Exception {
        qemuImg("base.qcow2", "-f", "qcow2", "-o", "compat=0.10");
        Path inc = qemuImg("inc.qcow2", "-f", "qcow2", "-o", "compat=0.10", "-F", "qcow2", "-b", "base.qcow2");
        QcowHeader h = QcowHeader.read(inc);
        assertEquals(2, h.version());
        assertEquals(72, h.headerLength());
        assertEquals("base.qcow2", h.backingFile());
        assertEquals("qcow2", h.backingFormat());
        assertTrue(h.extensionTypes().contains(QcowHeader.EXT_BACKING_FORMAT), h.extensionTypes().toString());
        ImageInspector.inspect(inc, Expected.backedBy("base.qcow2", 32 * MIB));
    }

    @Test
    void readsVersion3WithBackingAnd2MiBClusters() throws Exception {
        qemuImg("base.qcow2", "-f", "qcow2");
        Path inc = qemuImg("inc.qcow2", "-f", "qcow2", "-o", "cluster_size=2M", "-F", "qcow2", "-b", "base.qcow2");
        QcowHeader h = QcowHeader.read(inc);
        assertEquals(21, h.clusterBits());
        assertEquals("base.qcow2", h.backingFile());
        assertEquals("qcow2", h.backingFormat());
        ImageInspector.inspect(inc, Expected.backedBy("base.qcow2", 32 * MIB));
    }

    @Test
    void refusesAnExternalDataFileQemuImgMade() throws Exception {
        Path data = dir.resolve("data.raw");
        Path f = qemuImg("withdata.qcow2", "-f", "qcow2", "-o", "data_file=" + data);
        QcowHeader h = QcowHeader.read(f);
        assertEquals(QcowHeader.EXTERNAL_DATA_FILE, h.incompatibleFeatures() & QcowHeader.EXTERNAL_DATA_FILE);
        assertEquals(data.toString(), h.dataFile());
        assertTrue(h.extensionTypes().contains(QcowHeader.EXT_DATA_FILE), h.extensionTypes().toString());
        UntrustedImageException e = assertThrows(UntrustedImageException.class,
                () -> ImageInspector.inspect(f, Expected.standalone(32 * MIB)));
        assertEquals(f + ": it keeps its data in an external data file '" + data + "', not inside itself: refused,"
                + " nothing was opened", e.getMessage());
    }

    @Test
    void refusesWhatAFullOrAnIncrementalMustNotBe() throws Exception {
        qemuImg("base.qcow2", "-f", "qcow2");
        Path inc = qemuImg("inc.qcow2", "-f", "qcow2", "-F", "qcow2", "-b", "base.qcow2");
        assertRefused(inc, Expected.standalone(-1), "its backing file is 'base.qcow2' (another file), but it must have none");
        assertRefused(inc, Expected.backedBy("other.qcow2", -1),
                "its backing file is 'base.qcow2' (another file), not 'other.qcow2' in the same folder");
        assertRefused(inc, Expected.backedBy("nbd:base.qcow2", -1), "its parent's name 'nbd:base.qcow2' is not a plain");
        assertRefused(inc, Expected.backedBy("base.qcow2", 16 * MIB),
                "its header claims a virtual size of 33554432 bytes, the manifest says 16777216");
        // The forging helper's round trip keeps a valid image valid (so the forgeries test one change each).
        ForgedImage.of(inc).write();
        ImageInspector.inspect(inc, Expected.backedBy("base.qcow2", 32 * MIB));
        // A backing name without a recorded format: qemu would probe the parent's format.
        Path noFormat = qemuImg("nofmt.qcow2", "-f", "qcow2", "-F", "qcow2", "-b", "base.qcow2");
        ForgedImage.of(noFormat).withoutBackingFormat().write();
        assertRefused(noFormat, Expected.backedBy("base.qcow2", -1), "it records no backing format, so qemu would guess");
    }

    @Test
    void refusesMalformedHeaders() throws Exception {
        Path f = qemuImg("x.qcow2", "-f", "qcow2");
        byte[] good = Files.readAllBytes(f);

        putInt(f, 0, 0x12345678);
        assertRefused(f, Expected.standalone(-1), "not a qcow2 image (no QFI\\xfb magic)");
        Files.write(f, good);
        putInt(f, 4, 4);
        assertRefused(f, Expected.standalone(-1), "qcow2 version 4 (only 2 and 3 exist)");
        Files.write(f, good);
        putInt(f, 20, 30);
        assertRefused(f, Expected.standalone(-1), "cluster_bits 30 (qcow2 allows 9 to 21)");
        Files.write(f, good);
        putInt(f, 100, 4096 * 1024);
        assertRefused(f, Expected.standalone(-1), "header_length 4194304");
        Files.write(f, good);
        write(f, 72, ByteBuffer.allocate(8).putLong(0, 1L << 40));
        assertRefused(f, Expected.standalone(-1), "unknown incompatible feature bits 0x10000000000");
        Files.write(f, good);
        write(f, 24, ByteBuffer.allocate(8).putLong(0, -1L));
        assertRefused(f, Expected.standalone(-1), "virtual size 18446744073709551615 bytes");
        Files.write(f, good);
        int ext = QcowHeader.read(f).headerLength();
        putInt(f, ext, 0x1234);
        putInt(f, ext + 4, 70000);
        assertRefused(f, Expected.standalone(-1), "header extension 0x1234 of 70000 bytes");
        Files.write(f, good);
        ForgedImage.truncate(f, 4096);
        assertRefused(f, Expected.standalone(-1), "truncated: 4096 bytes, shorter than its first cluster");
        ForgedImage.truncate(f, 0);
        assertRefused(f, Expected.standalone(-1), "truncated: 0 bytes, not even a qcow2 magic");
    }

    @Test
    void refusesAFifoWithoutOpeningIt() throws Exception {
        Path fifo = ForgedImage.fifo(dir.resolve("fifo.qcow2"));
        assertRefused(fifo, Expected.standalone(-1), "not a regular file (a FIFO, socket or device)");
    }

    @Test
    void plainNames() {
        assertTrue(ImageInspector.isPlainName("INC-20261201T100000.000Z.qcow2"));
        for (String bad : List.of("", "/etc/shadow", "json:{}", "file:x", "nbd:localhost:10809", "http://h/x", "..", "a/b",
                "x\ny")) {
            assertFalse(ImageInspector.isPlainName(bad), bad);
        }
    }

    private static void assertRefused(Path f, Expected expected, String why) {
        UntrustedImageException e = assertThrows(UntrustedImageException.class, () -> ImageInspector.inspect(f, expected));
        assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(why), e.getMessage());
        assertTrue(e.getMessage().endsWith(": refused, nothing was opened"), e.getMessage());
    }

    private static void putInt(Path f, long offset, int value) throws IOException {
        write(f, offset, ByteBuffer.allocate(4).putInt(0, value));
    }

    private static void write(Path f, long offset, ByteBuffer b) throws IOException {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.write(b.position(0), offset);
        }
    }

    private Path qemuImg(String name, String... options) throws Exception {
        Path f = dir.resolve(name);
        List<String> cmd = new ArrayList<>(List.of("qemu-img", "create", "-q"));
        cmd.addAll(List.of(options));
        cmd.addAll(List.of(f.toString(), Long.toString(32 * MIB)));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, cmd + ": " + out);
        return f;
    }
}

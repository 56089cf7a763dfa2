package io.resilientkvm.engine.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QemuImgTest {
    private static final long MIB = 1024 * 1024;

    @TempDir
    Path dir;

    private final QemuImg qemuImg = new QemuImg("qemu-img", Duration.ofSeconds(60));

    @Test
    void createsQcow2AndReportsItsInfo() throws Exception {
        Path image = dir.resolve("main.qcow2");
        qemuImg.create(image, "qcow2", 10 * MIB);

        ImageInfo info = qemuImg.info(image);
        assertEquals("qcow2", info.format());
        assertEquals(10 * MIB, info.virtualSize());
        assertEquals(65536, info.clusterSize());
        assertTrue(info.actualSize() > 0, "actual size: " + info.actualSize());
        assertNull(info.backingFile());
        assertEquals(List.of(), info.bitmaps());
    }

    @Test
    void passesCreateOptions() throws Exception {
        Path image = dir.resolve("big-clusters.qcow2");
        qemuImg.create(image, "qcow2", 4 * MIB, Map.of("cluster_size", "131072"));

        assertEquals(131072, qemuImg.info(image).clusterSize());
    }

    @Test
    void infoListsBitmapsWithFlags() throws Exception {
        Path image = dir.resolve("bitmaps.qcow2");
        qemuImg.create(image, "qcow2", 4 * MIB);
        runQemuImg("bitmap", "--add", image.toString(), "backup-0");

        ImageInfo info = qemuImg.info(image);
        assertEquals(List.of(new ImageInfo.Bitmap("backup-0", List.of("auto"))), info.bitmaps());
    }

    @Test
    void infoReportsBackingFile() throws Exception {
        Path base = dir.resolve("base.qcow2");
        Path overlay = dir.resolve("overlay.qcow2");
        qemuImg.create(base, "qcow2", 4 * MIB);
        qemuImg.create(overlay, "qcow2", 4 * MIB, Map.of("backing_file", base.toString(), "backing_fmt", "qcow2"));

        assertEquals(base.toString(), qemuImg.info(overlay).backingFile());
    }

    @Test
    void refusesToCreateOverAnExistingFile() throws Exception {
        Path image = dir.resolve("precious.qcow2");
        Files.writeString(image, "marker");

        RefusedException e = assertThrows(RefusedException.class, () -> qemuImg.create(image, "qcow2", MIB));
        assertTrue(e.getMessage().contains(image.toString()), e.getMessage());
        assertEquals("marker", Files.readString(image));
    }

    @Test
    void failureCarriesQemuImgStderr() {
        Path missing = dir.resolve("missing.qcow2");

        OperationFailedException e = assertThrows(OperationFailedException.class, () -> qemuImg.info(missing));
        assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("Could not open"), "stderr of qemu-img expected in: " + e.getMessage());
    }

    @Test
    void checkReportsOkOnAFreshImage() throws Exception {
        Path image = dir.resolve("fresh.qcow2");
        qemuImg.create(image, "qcow2", 4 * MIB);

        CheckResult result = qemuImg.check(image);
        assertEquals(CheckResult.Status.OK, result.status());
        assertTrue(result.ok());
        assertTrue(result.output().contains("No errors"), result.output());
    }

    @Test
    void checkReportsUnsupportedForRaw() throws Exception {
        Path image = dir.resolve("disk.raw");
        qemuImg.create(image, "raw", MIB);

        assertEquals(CheckResult.Status.UNSUPPORTED, qemuImg.check(image).status());
    }

    @Test
    void checkReportsLeaks() throws Exception {
        Path image = dir.resolve("leaky.qcow2");
        qemuImg.create(image, "qcow2", 4 * MIB);
        try (FileChannel channel = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long refcountBlock = firstRefcountBlock(channel);
            // Cluster 10 is unused: give it a refcount and make the file long enough to hold it.
            channel.write(ByteBuffer.allocate(2).putShort(0, (short) 1), refcountBlock + 2 * 10);
            channel.truncate(12 * 65536);
            channel.write(ByteBuffer.allocate(1), 12 * 65536 - 1);
        }

        CheckResult result = qemuImg.check(image);
        assertEquals(CheckResult.Status.LEAKS, result.status(), result.output());
        assertFalse(result.ok());
    }

    @Test
    void checkReportsCorruption() throws Exception {
        Path raw = dir.resolve("data.raw");
        byte[] data = new byte[(int) MIB];
        new Random(42).nextBytes(data);
        Files.write(raw, data);
        Path image = dir.resolve("corrupt.qcow2");
        qemuImg.convert(raw, "raw", image, "qcow2");
        try (FileChannel channel = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            // Zero the refcount block: every used cluster now has refcount 0.
            channel.write(ByteBuffer.allocate(65536), firstRefcountBlock(channel));
        }

        CheckResult result = qemuImg.check(image);
        assertEquals(CheckResult.Status.CORRUPTED, result.status(), result.output());
        assertTrue(result.output().contains("ERROR"), result.output());
    }

    @Test
    void convertsRawToQcow2() throws Exception {
        Path raw = dir.resolve("source.raw");
        qemuImg.create(raw, "raw", 2 * MIB);
        Path target = dir.resolve("target.qcow2");

        qemuImg.convert(raw, "raw", target, "qcow2");

        ImageInfo info = qemuImg.info(target);
        assertEquals("qcow2", info.format());
        assertEquals(2 * MIB, info.virtualSize());
    }

    @Test
    void killsAHungQemuImgAfterTheTimeout() throws Exception {
        Path fake = dir.resolve("fake-qemu-img");
        Files.writeString(fake, "#!/bin/sh\nexec sleep 60\n");
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));
        QemuImg hanging = new QemuImg(fake.toString(), Duration.ofMillis(500));
        Path image = dir.resolve("x.qcow2");

        long start = System.nanoTime();
        OperationFailedException e = assertThrows(OperationFailedException.class, () -> hanging.info(image));
        assertTrue(e.getMessage().contains("did not finish within"), e.getMessage());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30), "the watchdog did not kill qemu-img");
    }

    @Test
    void overlayReadsItsBackingAndFlattenMakesItStandalone() throws Exception {
        Path base = dir.resolve("base.qcow2");
        qemuImg.create(base, "qcow2", 4 * MIB);
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x41 0 1M", base.toString());
        Path overlay = dir.resolve("overlay.qcow2");

        qemuImg.createOverlay(overlay, base.toAbsolutePath(), "qcow2");
        assertEquals(base.toAbsolutePath().toString(), qemuImg.info(overlay).backingFile());
        assertThrows(RefusedException.class, () -> qemuImg.createOverlay(overlay, base, "qcow2"));
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x42 1M 1M", overlay.toString());

        qemuImg.flatten(overlay);
        assertNull(qemuImg.info(overlay).backingFile());
        Files.delete(base);
        run("qemu-io", "-f", "qcow2", "-c", "read -P 0x41 0 1M", "-c", "read -P 0x42 1M 1M", overlay.toString());
    }

    private static long firstRefcountBlock(FileChannel channel) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(8);
        channel.read(header, 48); // refcount_table_offset
        long refcountTable = header.getLong(0);
        ByteBuffer entry = ByteBuffer.allocate(8);
        channel.read(entry, refcountTable);
        return entry.getLong(0);
    }

    private static void runQemuImg(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("qemu-img"));
        command.addAll(List.of(args));
        run(command.toArray(String[]::new));
    }

    /** Runs a command; it must succeed and, for qemu-io, report no failed read pattern. */
    private static void run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), String.join(" ", command) + " hung");
        assertEquals(0, process.exitValue(), String.join(" ", command) + ": " + output);
        assertFalse(output.contains("Pattern verification failed"), String.join(" ", command) + ": " + output);
    }
}

package io.resilientkvm.engine.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.RefusedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataDiskRegistryTest {
    @TempDir
    Path instance;

    @Test
    void aNewInstanceHasNoConflictAndCheckingWritesNothing() throws Exception {
        DataDiskRegistry registry = new DataDiskRegistry(instance);

        registry.check(List.of("data1", "data2"), false, 2);

        assertEquals(Map.of(), snapshot(instance));
    }

    @Test
    void recordsAmountAndIdsAndAcceptsTheSameConfiguration() throws Exception {
        DataDiskRegistry registry = new DataDiskRegistry(instance);

        registry.record(List.of("fast", "slow"));
        registry.check(List.of("fast", "slow"), true, 0);

        assertEquals("2\n", Files.readString(instance.resolve("etc/.data-disk-amount")));
        assertEquals("fast\nslow\n", Files.readString(instance.resolve("etc/.data-disk-ids")));
        try (Stream<Path> files = Files.list(instance.resolve("etc"))) {
            assertEquals(2, files.count(), "no temporary file may remain");
        }
    }

    @Test
    void listsEveryConflictInOneMessage() throws Exception {
        DataDiskRegistry registry = new DataDiskRegistry(instance);
        registry.record(List.of("data1", "data2"));

        RefusedException e = assertThrows(RefusedException.class,
                () -> registry.check(List.of("data1", "backup", "data3"), true, 2));

        String message = e.getMessage();
        assertEquals(ExitStatus.REFUSED, e.exitStatus());
        assertTrue(message.contains("conflict with already configured disks amount 2 in " + registry.amountFile()),
                message);
        assertTrue(message.contains("missing or renamed: [data2]"), message);
        assertTrue(message.contains("new: [backup, data3]"), message);
        assertTrue(message.contains(registry.idsFile().toString()), message);
        assertTrue(message.contains("external-disk and external-disk-number 2 are both given"), message);
        assertTrue(message.contains("if this change is intended, remove " + registry.amountFile() + " and "
                + registry.idsFile() + " after checking the disk paths"), message);
        assertEquals(3, message.lines().filter(line -> line.startsWith("  - ")).count(), message);
    }

    @Test
    void refusesReorderedDisks() throws Exception {
        DataDiskRegistry registry = new DataDiskRegistry(instance);
        registry.record(List.of("a", "b"));

        RefusedException e = assertThrows(RefusedException.class, () -> registry.check(List.of("b", "a"), true, 0));

        assertTrue(e.getMessage().contains("same ids in a different order"), e.getMessage());
    }

    @Test
    void reportsADamagedAmountFile() throws Exception {
        Files.createDirectories(instance.resolve("etc"));
        Files.writeString(instance.resolve("etc/.data-disk-amount"), "two\n");

        RefusedException e = assertThrows(RefusedException.class,
                () -> new DataDiskRegistry(instance).check(List.of("data1"), false, 1));

        assertTrue(e.getMessage().contains("'two'"), e.getMessage());
    }

    @Test
    void aRefusedProvisioningCreatesDownloadsAndModifiesNothing() throws Exception {
        QemuImg qemuImg = new QemuImg("qemu-img", Duration.ofSeconds(60));
        DiskProvisioner provisioner = new DiskProvisioner(qemuImg, new ImageDownloader());
        Path data = instance.resolve("srv");
        Files.createDirectories(data);
        Path image = instance.resolve("image.qcow2");
        qemuImg.create(image, "qcow2", 1024 * 1024);
        new DataDiskRegistry(instance).record(List.of("data1", "data2"));
        // The main disk is missing (would be downloaded) and a third legacy disk is asked for (would be created).
        DiskProvisioner.Request request = new DiskProvisioner.Request(instance, data,
                new MainDisk(data.resolve("virtual.qcow2"), 1024 * 1024, "qcow2"), ImageDownloader.Source.of(image.toUri()),
                new LegacyExternalDisks(3, 1, "qcow2"), List.of());
        Map<Path, String> before = snapshot(instance);

        RefusedException e = assertThrows(RefusedException.class, () -> provisioner.provision(request));

        assertTrue(e.getMessage().contains("amount 2"), e.getMessage());
        assertEquals(before, snapshot(instance));
    }

    /** Every file and directory under root, with its content hash and modification time. */
    private static Map<Path, String> snapshot(Path root) throws IOException {
        Map<Path, String> snapshot = new TreeMap<>();
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.toList()) {
                String state = Files.getLastModifiedTime(path).toString();
                if (Files.isRegularFile(path)) {
                    state += " " + sha256(Files.readAllBytes(path));
                }
                snapshot.put(root.relativize(path), state);
            }
        }
        snapshot.remove(Path.of(""));
        return snapshot;
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

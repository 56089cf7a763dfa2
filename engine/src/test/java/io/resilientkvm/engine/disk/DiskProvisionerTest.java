package io.resilientkvm.engine.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import io.resilientkvm.engine.image.UntrustedImageException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DiskProvisionerTest {
    private static final long MIB = 1024 * 1024;
    private static final long GIB = 1024 * MIB;
    /** Port 9 (discard) on loopback: any attempt to fetch it fails. */
    private static final URI URI_NEVER_FETCHED = URI.create("http://127.0.0.1:9/never-fetched.img");

    @TempDir
    Path instance;

    private final QemuImg qemuImg = new QemuImg("qemu-img", Duration.ofSeconds(60));
    private DiskProvisioner provisioner;

    @BeforeEach
    void provisioner() {
        // The test's images are file: URLs under the instance folder, allowed as a node would allow them.
        provisioner = new DiskProvisioner(qemuImg, new ImageDownloader(new DownloadLimits(DownloadLimits.DEFAULT_MAX_BYTES,
                DownloadLimits.DEFAULT_DEADLINE, List.of(instance))));
    }

    private Path data() {
        return instance.resolve("srv");
    }

    private MainDisk main(String format) {
        return new MainDisk(data().resolve("virtual.qcow2"), 20 * MIB, format);
    }

    private DiskProvisioner.Request request(MainDisk main, ImageDownloader.Source image, LegacyExternalDisks legacy,
            List<ExternalDisk> external) {
        return new DiskProvisioner.Request(instance, data(), main, image, legacy, external);
    }

    @Test
    void createsTheMainQcow2OfTheGivenSize() throws Exception {
        MainDisk main = main("qcow2");

        DiskProvisioner.Provisioned result = provisioner.provision(request(main, null, null, null));

        ImageInfo info = qemuImg.info(main.file());
        assertEquals("qcow2", info.format());
        assertEquals(20 * MIB, info.virtualSize());
        assertEquals(List.of(main), result.disks());
        assertEquals("0", Files.readString(new DataDiskRegistry(instance).amountFile()).strip());
        assertFalse(Files.exists(main.file().resolveSibling("virtual.qcow2.creating")));
    }

    @Test
    void neverOverwritesAnExistingMainDisk() throws Exception {
        MainDisk main = main("qcow2");
        Files.createDirectories(main.file().getParent());
        Files.writeString(main.file(), "marker: the guest's data");

        DiskProvisioner.Provisioned result = provisioner.provision(
                request(main, ImageDownloader.Source.of(URI_NEVER_FETCHED), null, null));

        assertEquals("marker: the guest's data", Files.readString(main.file()));
        assertEquals(main, result.mainDisk());
    }

    @Test
    void createsLegacyExternalDisksInTheDocumentedLayout() throws Exception {
        MainDisk main = main("qcow2");

        DiskProvisioner.Provisioned result = provisioner.provision(
                request(main, null, new LegacyExternalDisks(2, 1, "qcow2"), null));

        Path first = data().resolve("external/data1/kvm_virtual_disk.qcow2");
        Path second = data().resolve("external/data2/kvm_virtual_disk.qcow2");
        assertEquals(GIB, qemuImg.info(first).virtualSize());
        assertEquals(GIB, qemuImg.info(second).virtualSize());
        assertEquals(List.of("data1", "data2"), result.externalDisks().stream().map(ExternalDisk::id).toList());
        assertEquals(List.of(first, second), result.externalDisks().stream().map(ExternalDisk::path).toList());
        assertEquals(main, result.disks().get(0));
        DataDiskRegistry registry = new DataDiskRegistry(instance);
        assertEquals("2\n", Files.readString(registry.amountFile()));
        assertEquals("data1\ndata2\n", Files.readString(registry.idsFile()));

        // A second run keeps the disks as they are.
        long before = Files.getLastModifiedTime(first).toMillis();
        provisioner.provision(request(main, null, new LegacyExternalDisks(2, 1, "qcow2"), null));
        assertEquals(before, Files.getLastModifiedTime(first).toMillis());
    }

    @Test
    void listsEveryMissingModernExternalDiskAndTouchesNothing() throws Exception {
        Path present = instance.resolve("present.raw");
        Files.writeString(present, "x");
        Path missingA = instance.resolve("missing-a.qcow2");
        Path missingB = instance.resolve("missing-b.qcow2");
        List<ExternalDisk> external = List.of(
                new ExternalDisk("a", missingA, 1, null, null),
                new ExternalDisk("p", present, 2, "raw", null),
                new ExternalDisk("b", missingB, 3, "qcow2", "none"));
        MainDisk main = main("qcow2");

        BadInputException e = assertThrows(BadInputException.class,
                () -> provisioner.provision(request(main, null, null, external)));

        assertEquals(2, e.problems().size(), e.getMessage());
        assertTrue(e.getMessage().contains(missingA.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(missingB.toString()), e.getMessage());
        assertFalse(e.getMessage().contains(present.toString()), e.getMessage());
        assertFalse(Files.exists(main.file()), "the main disk must not be created when the request is invalid");
        assertFalse(Files.exists(new DataDiskRegistry(instance).amountFile()));
    }

    @Test
    void attachesModernExternalDisksByIndexAfterTheMainDisk() throws Exception {
        Path x = instance.resolve("x.qcow2");
        Path y = instance.resolve("y.qcow2");
        qemuImg.create(x, "qcow2", MIB);
        qemuImg.create(y, "qcow2", MIB);
        ExternalDisk second = new ExternalDisk("second", y, 2, "qcow2", null);
        ExternalDisk first = new ExternalDisk("first", x, 1, null, null);
        MainDisk main = main("qcow2");

        DiskProvisioner.Provisioned result = provisioner.provision(request(main, null, null, List.of(second, first)));

        assertEquals(List.of(main, first.withFormat("qcow2"), second), result.disks(), "the format is fixed at first attach");
        assertEquals(ExternalDisk.DEFAULT_CACHE, first.cache());
        assertEquals("first\nsecond\n", Files.readString(new DataDiskRegistry(instance).idsFile()));
        assertEquals("first qcow2\nsecond qcow2\n", Files.readString(new DataDiskRegistry(instance).formatsFile()));
    }

    @Test
    void aDownloadedRawImageIsConvertedToQcow2SoThatBitmapsCanBePersistent() throws Exception {
        Path image = instance.resolve("image.raw");
        qemuImg.create(image, "raw", 4 * MIB);
        Files.write(image, new byte[] {0x52, 0x4b, 0x56, 0x4d}, java.nio.file.StandardOpenOption.WRITE);
        MainDisk main = new MainDisk(data().resolve("virtual.qcow2"), 20 * MIB, "qcow2");

        DiskProvisioner.Provisioned result = provisioner.provision(
                request(main, ImageDownloader.Source.of(image.toUri()), null, null));

        assertEquals("qcow2", result.mainDisk().format());
        assertEquals("qcow2", qemuImg.info(main.file()).format());
        assertEquals(4 * MIB, qemuImg.info(main.file()).virtualSize());
        Process cmp = new ProcessBuilder("qemu-img", "compare", "-U", image.toString(), main.file().toString()).start();
        org.junit.jupiter.api.Assertions.assertTrue(cmp.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "qemu-img compare hung");
        assertEquals(0, cmp.exitValue(), "converted image must hold the downloaded data");
        try (var files = Files.list(data())) {
            assertEquals(List.of(main.file()), files.toList(), "no staging or partial file may remain");
        }
    }

    @Test
    void downloadsTheImageWhenTheMainDiskIsMissingAndDetectsItsFormat() throws Exception {
        Path image = instance.resolve("image.qcow2");
        qemuImg.create(image, "qcow2", 8 * MIB);
        MainDisk main = new MainDisk(data().resolve("virtual.img"), 20 * MIB, "raw");

        DiskProvisioner.Provisioned result = provisioner.provision(
                request(main, ImageDownloader.Source.of(image.toUri()), null, null));

        assertEquals("qcow2", result.mainDisk().format(), "the format comes from the image, not the parameter");
        assertEquals(8 * MIB, qemuImg.info(main.file()).virtualSize());
        try (var files = Files.list(data())) {
            assertEquals(List.of(main.file()), files.toList(), "no staging or partial file may remain");
        }
    }

    @Test
    void refusesADownloadedImageWithABackingFile() throws Exception {
        Path base = instance.resolve("base.qcow2");
        Path overlay = instance.resolve("overlay.qcow2");
        qemuImg.create(base, "qcow2", MIB);
        qemuImg.create(overlay, "qcow2", MIB, Map.of("backing_file", base.toString(), "backing_fmt", "qcow2"));
        MainDisk main = main("qcow2");

        UntrustedImageException e = assertThrows(UntrustedImageException.class, () -> provisioner.provision(
                request(main, ImageDownloader.Source.of(overlay.toUri()), null, null)));

        assertTrue(e.getMessage().contains("backing file is '" + base + "' (an absolute host path)"), e.getMessage());
        assertTrue(e.getMessage().contains(overlay.toUri().toString()), e.getMessage());
        try (var files = Files.list(data())) {
            assertEquals(List.of(), files.toList(), "the rejected image must not stay behind");
        }
    }
}

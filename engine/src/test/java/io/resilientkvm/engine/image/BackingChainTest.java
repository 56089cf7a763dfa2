package io.resilientkvm.engine.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.VmHost;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.engine.testing.ForgedImage;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VM disk's backing chain, walked in Java: only the restored chain in the disk's repository
 * folder passes. What a refused header names is a FIFO where it can be: had anything opened it,
 * the test would hang past its timeout.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BackingChainTest {
    private static final String FULL = "FULL-20261120T100000.000Z.qcow2";
    private static final String INC1 = "INC-20261120T100100.000Z.qcow2";
    private static final String INC2 = "INC-20261120T100200.000Z.qcow2";

    @TempDir
    Path dir;
    Path device;
    Path chain;
    Path fifo;

    @BeforeEach
    void chain() throws Exception {
        device = dir.resolve("srv/backup/virtio0");
        chain = Files.createDirectories(device.resolve("20261120T100000.000Z"));
        fifo = ForgedImage.fifo(dir.resolve("host-secret"));
        qemuImg("create", "-q", "-f", "qcow2", chain.resolve(FULL).toString(), "16M");
        overlay(chain.resolve(INC1), FULL);
        overlay(chain.resolve(INC2), INC1);
    }

    @Test
    void theRestoredChainIsListedNearestFirst() throws Exception {
        Path disk = overlay(dir.resolve("disk.qcow2"), chain.resolve(INC2).toString());
        assertEquals(List.of(chain.resolve(INC2), chain.resolve(INC1), chain.resolve(FULL)), BackingChain.under(disk, device));
        Path relative = overlay(dir.resolve("srv/rel.qcow2"), "backup/virtio0/" + chain.getFileName() + "/" + INC1);
        assertEquals(List.of(chain.resolve(INC1), chain.resolve(FULL)), BackingChain.under(relative, device));
        Path standalone = dir.resolve("plain.qcow2");
        qemuImg("create", "-q", "-f", "qcow2", standalone.toString(), "16M");
        assertEquals(List.of(), BackingChain.under(standalone, device));
    }

    @Test
    void aBackingFileOutsideTheRepositoryIsRefused() throws Exception {
        Path disk = overlay(dir.resolve("disk.qcow2"), fifo.toString());
        assertRefused(disk, disk + ": its backing file is '" + fifo + "', which is not a backup in a chain folder of "
                + device);
        Path escaping = overlay(dir.resolve("esc.qcow2"), "srv/backup/virtio0/../../../host-secret");
        assertRefused(escaping, "which is not a backup in a chain folder");
        Path otherDevice = Files.createDirectories(dir.resolve("srv/backup/disk-other/c1"));
        Files.copy(chain.resolve(FULL), otherDevice.resolve(FULL));
        assertRefused(overlay(dir.resolve("other.qcow2"), otherDevice.resolve(FULL).toString()),
                "which is not a backup in a chain folder of " + device);
    }

    @Test
    void aJsonOrProtocolBackingIsRefused() throws Exception {
        Path json = overlay(dir.resolve("json.qcow2"), "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"file\",\"filename\":\""
                + fifo + "\"}}");
        assertRefused(json, "(a json: pseudo-protocol), not a path to a backup in " + device);
        assertRefused(overlay(dir.resolve("nbd.qcow2"), "nbd:127.0.0.1:1"), "(a 'nbd:' protocol)");
    }

    @Test
    void aFifoNamedLikeABackupIsNotOpened() throws Exception {
        String name = "FULL-20261120T110000.000Z.qcow2";
        ForgedImage.fifo(chain.resolve(name));
        Path disk = overlay(dir.resolve("disk.qcow2"), chain.resolve(name).toString());
        assertRefused(disk, chain.resolve(name) + ": not a regular file (a FIFO, socket or device)");
        Files.delete(disk);
        ForgedImage.fifo(disk);
        assertRefused(disk, disk + ": a qcow2 disk must be a regular file (it is a FIFO, socket or device)");
    }

    @Test
    void aBackupNamingAHostFileALoopOrAnotherFormatIsRefused() throws Exception {
        Path disk = overlay(dir.resolve("disk.qcow2"), chain.resolve(INC2).toString());
        Files.delete(chain.resolve(INC1));
        overlay(chain.resolve(INC1), fifo.toString());
        assertRefused(disk, chain.resolve(INC1) + ": its backing file is '" + fifo + "' (an absolute host path), not a"
                + " backup's plain name in the same folder");

        Files.delete(chain.resolve(INC1));
        overlay(chain.resolve(INC1), INC2);
        assertRefused(disk, chain.resolve(INC1) + ": its backing file '" + INC2 + "' is already in the chain (a loop)");

        Files.delete(chain.resolve(INC1));
        qemuImg("create", "-q", "-f", "qcow2", "-F", "raw", "-b", FULL, "-u", chain.resolve(INC1).toString(), "16M");
        assertRefused(disk, chain.resolve(INC1) + ": its backing format is 'raw', not qcow2");

        Path rawBelow = overlay(dir.resolve("raw.qcow2"), chain.resolve(INC2).toString(), "raw");
        assertRefused(rawBelow, rawBelow + ": its backing format is 'raw', not qcow2");
    }

    @Test
    void aChainFolderLinkedElsewhereIsRefused() throws Exception {
        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        Files.copy(chain.resolve(FULL), elsewhere.resolve(FULL));
        Files.createSymbolicLink(device.resolve("linked"), elsewhere);
        Path disk = overlay(dir.resolve("disk.qcow2"), device.resolve("linked").resolve(FULL).toString());
        assertRefused(disk, "lies in " + device.resolve("linked") + ", which leads to " + elsewhere.toRealPath());
    }

    /** The whole path: a promoted disk whose backing is a host FIFO stops the start before QEMU runs. */
    @Test
    void anInstanceWhoseDiskNamesAHostFileDoesNotStart() throws Exception {
        InstanceLayout layout = new InstanceLayout(dir.resolve("kvm1"));
        Files.createDirectories(layout.mainDisk().getParent());
        overlay(layout.mainDisk(), fifo.toString());
        KvmParameters p = KvmParameters.fromEffective(ParameterValidator.of(SchemaKind.KVM_INSTANCE)
                .validate(JsonDocuments.parseObject("{\"ram-size\": 256, \"disk-size\": 1, \"use-tap\": false}", "t"))
                .effective());
        UntrustedImageException e = assertThrows(UntrustedImageException.class,
                () -> KvmInstance.prepare("kvm1", p, VmHost.loopback(), layout));
        assertTrue(e.getMessage().startsWith(layout.mainDisk() + ": its backing file is '" + fifo + "'"), e.getMessage());
        assertTrue(e.getMessage().endsWith("refused, nothing was opened"), e.getMessage());
        assertFalse(Files.exists(layout.qemuLog()), "QEMU never ran");
        assertThrows(UntrustedImageException.class, () -> KvmInstance.commandLine("kvm1", p, VmHost.loopback(), layout),
                "bin/kvm cmdline refuses it too");
    }

    private void assertRefused(Path disk, String part) {
        UntrustedImageException e = assertThrows(UntrustedImageException.class, () -> BackingChain.under(disk, device));
        assertTrue(e.getMessage().contains(part), e.getMessage());
        assertTrue(e.getMessage().endsWith("refused, nothing was opened"), e.getMessage());
        assertTrue(Files.exists(fifo));
    }

    /** A qcow2 backed by {@code backing} as written, not opened ({@code -u}). */
    private static Path overlay(Path file, String backing) throws Exception {
        return overlay(file, backing, "qcow2");
    }

    private static Path overlay(Path file, String backing, String format) throws Exception {
        qemuImg("create", "-q", "-f", "qcow2", "-F", format, "-b", backing, "-u", file.toString(), "16M");
        return file;
    }

    private static void qemuImg(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("qemu-img"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
    }
}

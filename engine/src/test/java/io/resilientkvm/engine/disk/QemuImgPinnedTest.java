package io.resilientkvm.engine.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.image.QcowHeader;
import io.resilientkvm.engine.image.TrustedChain;
import io.resilientkvm.engine.testing.ForgedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The qemu-img calls on repository images: a file alone (no backing opened), a chain with its
 * backing nodes pinned, a long chain by its verified names, an overlay made without opening the
 * chain. Where a call must not open a name written in an image, that name is a FIFO.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class QemuImgPinnedTest {
    private static final long MIB = 1024 * 1024;

    @TempDir
    Path dir;

    private final QemuImg qemuImg = new QemuImg("qemu-img", Duration.ofSeconds(60));

    @Test
    void checkAndInfoOfAFileAloneDoNotOpenItsBackingFile() throws Exception {
        Path fifo = ForgedImage.fifo(dir.resolve("fifo"));
        run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", fifo.toString(), "-u", "inc.qcow2", "16M");
        Path inc = dir.resolve("inc.qcow2");
        assertEquals(CheckResult.Status.OK, qemuImg.checkAlone(inc).status());
        ImageInfo info = qemuImg.infoAlone(inc);
        assertEquals("qcow2", info.format());
        assertEquals(16 * MIB, info.virtualSize());
        assertEquals(fifo.toString(), info.backingFile(), "reported as written, not opened");
    }

    @Test
    void aPinnedChainReadsTheGivenFilesNotTheNamesInsideThem() throws Exception {
        // After the check, the top's header is rewritten to name a FIFO: the pinned nodes still win.
        TrustedChain trusted = checkedThenForged(chain(3));
        Path out = dir.resolve("out.raw");
        qemuImg.convertChain(trusted, out, "raw");
        assertSameData(out, 3);
    }

    @Test
    void aChainLongerThanThePinLimitIsReadByItsCheckedNames() throws Exception {
        int n = QemuImg.PINNED_CHAIN_LIMIT + 3;
        List<Path> chain = chain(n);
        Path out = dir.resolve("out.raw");
        qemuImg.convertChain(TrustedChain.verify(chain, 16 * MIB), out, "raw");
        assertSameData(out, n);
    }

    @Test
    void anOverlayOnATrustedChainIsMadeWithoutOpeningIt() throws Exception {
        List<Path> chain = chain(2);
        TrustedChain trusted = checkedThenForged(chain);
        Path overlay = dir.resolve("overlay.qcow2");
        qemuImg.createOverlay(overlay, trusted);
        QcowHeader h = QcowHeader.read(overlay);
        assertEquals(chain.get(1).toAbsolutePath().toString(), h.backingFile());
        assertEquals("qcow2", h.backingFormat());
        assertEquals(16 * MIB, h.virtualSize());
        assertNull(h.dataFile());
    }

    /** The chain checked, then its top's backing name rewritten to a FIFO (a change after the check). */
    private TrustedChain checkedThenForged(List<Path> chain) throws Exception {
        TrustedChain trusted = TrustedChain.verify(chain, 16 * MIB);
        Path fifo = ForgedImage.fifo(dir.resolve("fifo"));
        ForgedImage.of(chain.get(chain.size() - 1)).backing(fifo.toString()).write();
        return trusted;
    }

    /** A full and n-1 incrementals, backup i writing pattern 0x40+i at MiB i; each backed by the previous's plain name. */
    private List<Path> chain(int n) throws Exception {
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            String name = String.format("b%03d.qcow2", i);
            if (i == 0) {
                run("qemu-img", "create", "-q", "-f", "qcow2", name, "16M");
            } else {
                run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", files.get(i - 1).getFileName().toString(),
                        name);
            }
            run("qemu-io", "-f", "qcow2", "-c", "write -P " + (0x40 + i % 64) + " " + (i % 16) + "M 64k", name);
            files.add(dir.resolve(name));
        }
        return files;
    }

    /** The raw image holds the newest write of each MiB. */
    private void assertSameData(Path raw, int n) throws Exception {
        byte[] data = Files.readAllBytes(raw);
        assertEquals(16 * MIB, data.length);
        for (int slot = 0; slot < Math.min(n, 16); slot++) {
            int last = slot;
            for (int i = slot; i < n; i += 16) {
                last = i;
            }
            assertEquals((byte) (0x40 + last % 64), data[(int) (slot * MIB)], "MiB " + slot);
            assertEquals((byte) (0x40 + last % 64), data[(int) (slot * MIB + 65535)], "MiB " + slot + " end");
            assertEquals(0, data[(int) (slot * MIB + 65536)], "MiB " + slot + " after the write");
        }
    }

    private void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", command) + ": " + out);
    }
}

package io.resilientkvm.engine.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.image.UntrustedImageException;
import io.resilientkvm.engine.testing.ForgedImage;
import io.resilientkvm.engine.testing.Forgery;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Forged incrementals (rewritten after the backup, manifest size and SHA-256 recomputed) are
 * reported by ChainVerifier, which runs qemu-img only on files whose header passed. The host file
 * a forgery names is a FIFO: had anything opened it, the test would hang past its timeout.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ChainVerifierForgedChainTest {
    private static final long MIB = 1024 * 1024;
    private static final Instant T0 = Instant.parse("2026-11-20T10:00:00Z");

    @TempDir
    Path dir;

    Path repo;
    Path fifo;
    Path inc;

    @BeforeEach
    void build() throws Exception {
        repo = Files.createDirectories(dir.resolve("repo"));
        fifo = ForgedImage.fifo(dir.resolve("host-secret"));
        String chainId = BackupRepository.stamp(T0);
        Path chainDir = Files.createDirectories(repo.resolve("vda").resolve(chainId));
        String full = "FULL-" + chainId + ".qcow2";
        String incName = "INC-" + BackupRepository.stamp(T0.plusSeconds(60)) + ".qcow2";
        run(chainDir, "qemu-img", "create", "-q", "-f", "qcow2", full, Long.toString(16 * MIB));
        run(chainDir, "qemu-io", "-f", "qcow2", "-c", "write -P 0x41 0 1M", full);
        run(chainDir, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", full, incName);
        run(chainDir, "qemu-io", "-f", "qcow2", "-c", "write -P 0x42 1M 1M", incName);
        manifest(chainDir, chainId, 0, full, null);
        manifest(chainDir, chainId, 1, incName, full);
        inc = chainDir.resolve(incName);
    }

    @Test
    void theUnforgedChainVerifies() throws Exception {
        VerifyReport report = ChainVerifier.verify(chain());
        assertTrue(report.ok(), report.problems().toString());
        assertEquals(2, ChainVerifier.trusted(chain()).files().size());
    }

    @ParameterizedTest
    @EnumSource(Forgery.class)
    void aForgedIncrementalIsReportedAndNothingItNamesIsOpened(Forgery forgery) throws Exception {
        String why = forgery.apply(inc, fifo);
        for (VerifyReport report : List.of(ChainVerifier.verify(chain()), ChainVerifier.verifyWithoutHashes(chain()),
                ChainVerifier.verifyNewest(chain(), false))) {
            assertFalse(report.ok());
            assertEquals(1, report.problems().size(), report.problems().toString());
            String problem = report.problems().get(0);
            assertTrue(problem.startsWith(inc + ": "), problem);
            assertTrue(problem.contains(why), problem);
            assertTrue(problem.endsWith("refused, nothing was opened"), problem);
        }
        UntrustedImageException e = assertThrows(UntrustedImageException.class, () -> ChainVerifier.trusted(chain()));
        assertTrue(e.getMessage().contains(why), e.getMessage());
        assertTrue(Files.exists(fifo));
    }

    private Chain chain() throws Exception {
        return new BackupRepository(repo).chains("vda").get(0);
    }

    private void manifest(Path chainDir, String chainId, int sequence, String file, String parent) throws Exception {
        Path f = chainDir.resolve(file);
        Instant t = T0.plusSeconds(60L * sequence);
        BackupManifest m = new BackupManifest(BackupManifest.FORMAT_VERSION, "test", "vda", chainId, sequence,
                parent == null ? BackupManifest.Level.FULL : BackupManifest.Level.INC, file, parent,
                "qmpbackup-vda-" + chainId, 16 * MIB, Files.size(f), Sha256.of(f), t, t, t, 0, 0, 0);
        AtomicFiles.writeAtomically(BackupManifest.manifestPath(f), m.toJson());
    }

    private static void run(Path cwd, String... command) throws Exception {
        Process p = new ProcessBuilder(new ArrayList<>(List.of(command))).directory(cwd.toFile()).redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", command) + ": " + out);
    }
}

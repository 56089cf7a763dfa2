package io.resilientkvm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.testing.ForgedImage;
import io.resilientkvm.engine.testing.Forgery;
import io.resilientkvm.importer.testing.TestRepository;
import io.resilientkvm.importer.testing.TestRepository.Point;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * bin/restore on a repository whose newest incremental was forged after the backup (manifest
 * size and SHA-256 recomputed): refused with exit 3 whatever the mode (standalone, instant,
 * --no-verify), naming the file and what it referred to; the older points still restore. The
 * host file a forgery names is a FIFO: had qemu-img opened it, the test would hang past its timeout.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RestoreCommandForgedChainTest {
    private static final long MIB = 1024 * 1024;
    private static final Instant T0 = Instant.parse("2026-11-20T10:00:00Z");

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Forgery.class)
    void aForgedIncrementalIsRefusedWithExitThreeAndNothingItNamesIsOpened(Forgery forgery) throws Exception {
        Path repo = Files.createDirectories(dir.resolve("repo"));
        Path fifo = ForgedImage.fifo(dir.resolve("host-secret"));
        TestRepository chains = new TestRepository(repo, dir.resolve("work"), "vda", 16 * MIB);
        chains.full(T0, "write -P 0x41 0 1M");
        chains.inc(T0.plusSeconds(3600), "write -P 0x42 1M 1M");
        Point forged = chains.inc(T0.plusSeconds(7200), "write -P 0x43 4M 1M");
        Path file = repo.resolve("vda").resolve(forged.chainId()).resolve(forged.file());
        String why = forgery.apply(file, fifo);

        for (List<String> mode : List.<List<String>>of(List.of(), List.of("--instant"), List.of("--no-verify"),
                List.of("--verify", "quick"))) {
            Path out = dir.resolve("out" + mode.size() + mode.hashCode() + ".qcow2");
            List<String> args = new java.util.ArrayList<>(List.of("--repository", repo.toString(), "--output",
                    out.toString()));
            args.addAll(mode);
            RestoreCommandTest.Run r = RestoreCommandTest.restore(args.toArray(String[]::new));
            assertEquals(3, r.code(), mode + ": " + r.out() + r.err());
            assertTrue(r.err().startsWith("refused: refusing to restore vda at " + forged.name()), mode + ": " + r.err());
            assertTrue(r.err().contains(file + ": "), mode + ": " + r.err());
            assertTrue(r.err().contains(why), mode + ": " + r.err());
            assertTrue(r.err().contains("refused, nothing was opened"), mode + ": " + r.err());
            assertFalse(r.err().contains("Exception"), r.err());
            assertFalse(Files.exists(out), "no output for " + mode);
            assertFalse(Files.exists(out.resolveSibling(out.getFileName() + ".partial")));
        }
        Point intact = chains.points().get(1);
        Path out = dir.resolve("intact.raw");
        RestoreCommandTest.Run r = RestoreCommandTest.restore("--repository", repo.toString(), "--until", intact.file(), "--output", out.toString(), "--format",
                "raw");
        assertEquals(0, r.code(), r.err());
        assertTrue(TestRepository.sameData(out, intact.reference()), "the point before the forgery restores intact");
        assertTrue(Files.exists(fifo));
    }
}

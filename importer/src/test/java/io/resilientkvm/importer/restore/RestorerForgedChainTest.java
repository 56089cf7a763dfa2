package io.resilientkvm.importer.restore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.testing.ForgedImage;
import io.resilientkvm.engine.testing.Forgery;
import io.resilientkvm.importer.restore.RestoreRequest.Verification;
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
 * A chain forged after an instant restore made its overlay: flattening the overlay (qemu-img
 * rebase, which reads the chain by the names in its headers) is refused and the hold kept. The
 * host file a forgery names is a FIFO: had qemu-img opened it, the test would hang past its timeout.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RestorerForgedChainTest {
    private static final long MIB = 1024 * 1024;
    private static final Instant T0 = Instant.parse("2026-11-20T10:00:00Z");

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Forgery.class)
    void flatteningAnOverlayOnAChainForgedSinceIsRefusedAndTheHoldKept(Forgery forgery) throws Exception {
        Path repo = Files.createDirectories(dir.resolve("repo"));
        Path fifo = ForgedImage.fifo(dir.resolve("host-secret"));
        TestRepository chains = new TestRepository(repo, dir.resolve("work"), "vda", 16 * MIB);
        chains.full(T0, "write -P 0x41 0 1M");
        Point inc = chains.inc(T0.plusSeconds(60), "write -P 0x42 1M 1M");
        Restorer restorer = new Restorer(repo);
        Path overlay = dir.resolve("overlay.qcow2");
        Hold hold = restorer.instant(RestoreRequest.to(overlay).withVerification(Verification.QUICK)).hold().orElseThrow();

        String why = forgery.apply(repo.resolve("vda").resolve(inc.chainId()).resolve(inc.file()), fifo);
        RefusedException e = assertThrows(RefusedException.class, () -> restorer.flatten(hold.id()));
        assertTrue(e.getMessage().contains(why), e.getMessage());
        assertTrue(e.getMessage().contains("refused, nothing was opened"), e.getMessage());
        assertEquals(List.of(hold), restorer.holds().list(), "the hold stays");
        assertTrue(Files.exists(fifo));
    }
}

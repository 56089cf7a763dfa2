package io.resilientkvm.importer.retention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.params.RetentionAge;
import io.resilientkvm.importer.restore.RepositoryLock;
import io.resilientkvm.importer.restore.RestoreRequest;
import io.resilientkvm.importer.restore.Restorer;
import io.resilientkvm.importer.testing.TestRepository;
import io.resilientkvm.importer.testing.TestRepository.Point;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pruner on a real repository made with qemu-img: removes only what it should, whole, never under a restore. */
class PrunerTest {
    private static final long MIB = 1024 * 1024;
    private static final Instant NOW = Instant.parse("2026-11-24T12:00:00Z");
    private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
    /** 2W, keep only the newest backup: everything older than two weeks may go. */
    private static final RetentionPolicy POLICY = new RetentionPolicy(RetentionAge.parse("2W"), 1, 0, 0, 0);

    @TempDir
    Path dir;

    Path repo;
    TestRepository chains;
    String c30;
    String c20;
    String c10;
    String c0;

    @BeforeEach
    void repository() throws Exception {
        repo = Files.createDirectories(dir.resolve("repo"));
        chains = new TestRepository(repo, dir.resolve("work"), "vda", 16 * MIB);
        c30 = chains.full(NOW.minus(Duration.ofDays(30)), "write -P 0x41 0 1M").chainId();
        chains.inc(NOW.minus(Duration.ofDays(29)), "write -P 0x42 1M 1M");
        c20 = chains.full(NOW.minus(Duration.ofDays(20)), "write -P 0x43 2M 1M").chainId();
        c10 = chains.full(NOW.minus(Duration.ofDays(10)), "write -P 0x44 3M 1M").chainId();
        chains.inc(NOW.minus(Duration.ofDays(9)), "write -P 0x45 4M 1M");
        c0 = chains.full(NOW.minus(Duration.ofHours(1)), "write -P 0x46 5M 1M").chainId();
    }

    private List<String> chainIds() throws Exception {
        return new BackupRepository(repo).chains("vda").stream().map(Chain::chainId).toList();
    }

    @Test
    void removesWholeChainsOlderThanTheAgeAndKeepsTheRestRestorable() throws Exception {
        Pruner pruner = new Pruner(repo, POLICY, CLOCK);
        RetentionPlan dryRun = pruner.plan("vda");
        assertEquals(List.of(c30, c20), dryRun.toRemove());
        assertEquals(List.of(c30, c20, c10, c0), chainIds(), "a plan removes nothing");

        PruneResult result = pruner.prune("vda");

        assertEquals(List.of(c30, c20), result.removed());
        assertTrue(result.bytesFreed() > 0);
        assertEquals(List.of(c10, c0), chainIds());
        try (var s = Files.list(repo.resolve("vda"))) {
            assertEquals(2, s.count(), "no .removing-* folder left");
        }
        // Every kept point still restores to the disk as it was.
        Restorer restorer = new Restorer(repo, new QemuImg(), Duration.ofSeconds(5));
        for (Point p : chains.points().subList(3, 6)) {
            Path out = dir.resolve(p.file() + ".raw");
            restorer.materialize(RestoreRequest.to(out).withUntil(p.name()).withFormat(RestoreRequest.Format.RAW));
            assertTrue(TestRepository.sameData(out, p.reference()), p.name());
        }
        assertEquals(List.of(), pruner.prune("vda").removed(), "a second prune has nothing to do");
    }

    @Test
    void aChainHeldByAnInstantRestoreIsKeptUntilReleased() throws Exception {
        Restorer restorer = new Restorer(repo, new QemuImg(), Duration.ofSeconds(5));
        Path overlay = dir.resolve("vm.qcow2");
        String hold = restorer.instant(RestoreRequest.to(overlay).withUntil(c20)).hold().orElseThrow().id();
        Pruner pruner = new Pruner(repo, POLICY, CLOCK);

        assertEquals(List.of(c30), pruner.prune("vda").removed());
        assertTrue(chainIds().contains(c20));
        assertTrue(TestRepository.sameData(overlay, chains.points().get(2).reference()), "the overlay still reads its chain");

        restorer.flatten(hold);
        assertEquals(List.of(c20), pruner.prune("vda").removed());
        assertTrue(TestRepository.sameData(overlay, chains.points().get(2).reference()), "flattened before the release");
    }

    @Test
    void anUnreadableHoldStopsThePruneRatherThanGuessing() throws Exception {
        Path holds = Files.createDirectories(repo.resolve(io.resilientkvm.importer.restore.Holds.FOLDER));
        Files.writeString(holds.resolve("broken.json"), "{\"formatVersion\": 9}");
        var e = assertThrows(io.resilientkvm.engine.error.BadInputException.class,
                () -> new Pruner(repo, POLICY, CLOCK).prune("vda"));
        assertTrue(e.getMessage().contains(holds.resolve("broken.json") + ": hold formatVersion 9 is not supported"),
                e.getMessage());
        assertEquals(List.of(c30, c20, c10, c0), chainIds());
    }

    @Test
    void neverDuringARestore() throws Exception {
        Pruner pruner = new Pruner(repo, POLICY, CLOCK, Duration.ofMillis(300));
        try (RepositoryLock restore = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore of vda to /x",
                Duration.ZERO)) {
            RefusedException e = assertThrows(RefusedException.class, () -> pruner.prune("vda"));
            assertTrue(e.getMessage().contains("restore of vda to /x"), e.getMessage());
            assertEquals(List.of(c30, c20), pruner.plan("vda").toRemove(), "a dry run shares the lock");
        }
        assertEquals(List.of(c30, c20, c10, c0), chainIds());
        assertEquals(List.of(c30, c20), pruner.prune("vda").removed());
    }

    @Test
    void aDamagedNewerChainDoesNotJustifyRemovals() throws Exception {
        // The newest chain is damaged: c10 verifies, so only chains older than c10 may go.
        Point newest = chains.points().get(5);
        Path file = repo.resolve("vda").resolve(newest.chainId()).resolve(newest.file());
        Files.write(file, new byte[] {1}, java.nio.file.StandardOpenOption.APPEND);
        Pruner pruner = new Pruner(repo, POLICY, CLOCK);
        assertEquals(List.of(c30, c20), pruner.plan("vda").toRemove());

        // Damage c10 as well: c20 is the newest verified chain, so c20 itself must stay.
        Point c10full = chains.points().get(3);
        Files.write(repo.resolve("vda").resolve(c10).resolve(c10full.file()), new byte[] {1},
                java.nio.file.StandardOpenOption.APPEND);
        RetentionPlan plan = pruner.plan("vda");
        assertEquals(List.of(c30), plan.toRemove(), plan.toString());
        assertTrue(plan.decision(c20).reasons().get(0).contains("no newer chain is complete and verified"), plan.toString());

        // And c20 too: no chain verifies, nothing is removed.
        Point c20full = chains.points().get(2);
        Files.write(repo.resolve("vda").resolve(c20).resolve(c20full.file()), new byte[] {1},
                java.nio.file.StandardOpenOption.APPEND);
        assertEquals(List.of(), pruner.prune("vda").removed());
        assertEquals(List.of(c30, c20, c10, c0), chainIds());
    }

    @Test
    void aPruneInterruptedMidDeleteIsFinishedAndNeverLooksLikeAChain() throws Exception {
        // What a crash between the rename and the end of the delete leaves.
        Path chainDir = repo.resolve("vda").resolve(c30);
        Path hidden = repo.resolve("vda").resolve(Pruner.REMOVING_PREFIX + c30);
        Files.move(chainDir, hidden);
        Files.delete(Files.list(hidden).filter(p -> p.toString().endsWith(".json")).findFirst().orElseThrow());
        assertFalse(chainIds().contains(c30), "readers do not see a chain being removed");
        assertEquals(4, new Restorer(repo).points("vda").size());

        PruneResult result = new Pruner(repo, POLICY, CLOCK).prune("vda");

        assertFalse(Files.exists(hidden));
        assertEquals(List.of(c20), result.removed());
        assertEquals(Optional.of(c0), new BackupRepository(repo).newestChain("vda").map(Chain::chainId));
    }
}

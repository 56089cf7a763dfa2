package io.resilientkvm.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.testing.TestVm;
import java.nio.file.Path;
import java.time.Instant;
import java.time.Period;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** backup-new-chain-every: parsing, the decision, and AUTO backups of a real VM following it. */
class NewChainPolicyTest {
    private static final long MIB = 1 << 20;
    private static final Instant T0 = Instant.parse("2026-01-31T10:00:00Z");

    @TempDir
    Path dir;

    @Test
    void parsesAgesAndCounts() {
        assertEquals(Period.ofDays(7), NewChainPolicy.parse("7D").age());
        assertEquals(Period.ofWeeks(2), NewChainPolicy.parse("2W").age());
        assertEquals(Period.ofMonths(1), NewChainPolicy.parse("1M").age());
        assertEquals(Period.ofMonths(1), NewChainPolicy.DEFAULT.age());
        assertEquals(24, NewChainPolicy.parse("24").maxIncrementals());
        assertEquals("24", NewChainPolicy.parse("24").toString());
    }

    @Test
    void refusesWhatTheSchemaRefusesAndSaysTheForm() {
        for (String bad : new String[] {"", "0", "0D", "01", "1Y", "1d", "-1", "M", "1.5M", "12345678"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NewChainPolicy.parse(bad),
                    bad);
            assertTrue(e.getMessage().contains("7D, 2W or 1M"), e.getMessage());
        }
    }

    @Test
    void anAgeCountsFromTheFullsPointInTimeInCalendarMonths() {
        Chain chain = chain(T0, 3);
        NewChainPolicy monthly = NewChainPolicy.parse("1M");
        // 31 January + 1 month = 28 February (UTC calendar).
        assertTrue(monthly.whyNewChain(chain, Instant.parse("2026-02-28T09:59:59Z")).isEmpty());
        String why = monthly.whyNewChain(chain, Instant.parse("2026-02-28T10:00:00Z")).orElseThrow();
        assertTrue(why.contains("backup-new-chain-every 1M") && why.contains(chain.chainId()), why);
        assertTrue(NewChainPolicy.parse("7D").whyNewChain(chain, T0.plusSeconds(7 * 86400)).isPresent());
        assertTrue(NewChainPolicy.parse("1W").whyNewChain(chain, T0.plusSeconds(6 * 86400)).isEmpty());
    }

    @Test
    void aCountLimitsTheIncrementalsOfAChain() {
        NewChainPolicy two = NewChainPolicy.parse("2");
        assertTrue(two.whyNewChain(chain(T0, 0), T0).isEmpty());
        assertTrue(two.whyNewChain(chain(T0, 1), T0).isEmpty());
        String why = two.whyNewChain(chain(T0, 2), T0).orElseThrow();
        assertTrue(why.contains("holds 2 incrementals"), why);
    }

    @Test
    void autoBackupsOfARealVmStartANewChainWhenTheChainIsFull() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        BackupRequest req = BackupRequest.of(null, dir.resolve("backups")).withNewChainPolicy(NewChainPolicy.parse("1"));
        List<BackupManifest> made = new ArrayList<>();
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            for (int i = 0; i < 4; i++) {
                vm.write("virtio0", 0x41 + i, i * MIB, MIB);
                made.add(ChainBackupTest.single(Exporter.backup(req, vm.qmp())).manifest());
            }
            // Asked for: a full now, whatever the policy.
            made.add(ChainBackupTest.single(Exporter.backup(req.withLevel(BackupRequest.Level.FULL), vm.qmp()))
                    .manifest());
            vm.quit();
        }
        assertEquals(List.of(BackupManifest.Level.FULL, BackupManifest.Level.INC, BackupManifest.Level.FULL,
                BackupManifest.Level.INC, BackupManifest.Level.FULL), made.stream().map(BackupManifest::level).toList());
        assertEquals(made.get(0).chainId(), made.get(1).chainId());
        assertEquals(made.get(2).chainId(), made.get(3).chainId());
        assertEquals(3, made.stream().map(BackupManifest::chainId).distinct().count());
        assertTrue(TestVm.hasPattern(dir.resolve("backups/virtio0").resolve(made.get(3).chainId())
                .resolve(made.get(3).file()), 0x43, 2 * MIB, MIB));
    }

    static Chain chain(Instant fullStart, int incrementals) {
        String id = io.resilientkvm.engine.backup.BackupRepository.stamp(fullStart);
        List<BackupManifest> backups = new ArrayList<>();
        for (int i = 0; i <= incrementals; i++) {
            Instant t = fullStart.plusSeconds(3600L * i);
            backups.add(new BackupManifest(BackupManifest.FORMAT_VERSION, "vm", "virtio0", id, i,
                    i == 0 ? BackupManifest.Level.FULL : BackupManifest.Level.INC, (i == 0 ? "FULL-" : "INC-") + i
                    + ".qcow2", i == 0 ? null : "x", "qmpbackup-virtio0-" + id, MIB, MIB, "0".repeat(64), t, t, t, 0,
                    MIB, 0));
        }
        return new Chain("virtio0", id, Path.of("/nonexistent", id), backups, null);
    }
}

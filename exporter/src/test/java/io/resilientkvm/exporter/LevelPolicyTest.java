package io.resilientkvm.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.testing.TestVm;
import io.resilientkvm.exporter.BackupRequest.Level;
import io.resilientkvm.exporter.qmp.BlockDevice;
import io.resilientkvm.exporter.qmp.DirtyBitmap;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The level decision with a fixed clock: ages and counts without waiting, and every reason an incremental cannot be. */
class LevelPolicyTest {
    private static final long MIB = 1 << 20;
    private static final Instant T0 = Instant.parse("2026-01-31T10:00:00Z");

    @TempDir
    Path dir;

    @Test
    void aOneWeekAgeEndsTheChainSevenDaysAfterItsFullNotBefore() throws Exception {
        Chain chain = NewChainPolicyTest.chain(T0, 3);
        NewChainPolicy weekly = NewChainPolicy.parse("1W");
        LevelPolicy.Decision day6 = at(T0.plus(Duration.ofDays(7)).minusMillis(1))
                .decide(Level.AUTO, weekly, disk(chain), chain);
        assertTrue(day6.incremental());
        assertNull(day6.whyNewChain());
        LevelPolicy.Decision day7 = at(T0.plus(Duration.ofDays(7))).decide(Level.AUTO, weekly, disk(chain), chain);
        assertFalse(day7.incremental());
        assertTrue(day7.whyNewChain().contains("backup-new-chain-every 1W"), day7.whyNewChain());
        assertTrue(day7.whyNewChain().contains(chain.chainId()), day7.whyNewChain());
    }

    @Test
    void aCountEndsTheChainOnceItHoldsThatManyIncrementalsWhateverTheTime() throws Exception {
        NewChainPolicy three = NewChainPolicy.parse("3");
        LevelPolicy late = at(T0.plus(Duration.ofDays(400)));
        Chain two = NewChainPolicyTest.chain(T0, 2);
        assertTrue(late.decide(Level.AUTO, three, disk(two), two).incremental());
        Chain full = NewChainPolicyTest.chain(T0, 3);
        LevelPolicy.Decision d = late.decide(Level.AUTO, three, disk(full), full);
        assertFalse(d.incremental());
        assertTrue(d.whyNewChain().contains("holds 3 incrementals"), d.whyNewChain());
    }

    @Test
    void fullIsAlwaysFullAndIncIsRefusedWithTheReason() throws Exception {
        Chain chain = NewChainPolicyTest.chain(T0, 1);
        LevelPolicy now = at(T0);
        assertFalse(now.decide(Level.FULL, NewChainPolicy.DEFAULT, disk(chain), chain).incremental());
        assertTrue(now.decide(Level.INC, NewChainPolicy.DEFAULT, disk(chain), chain).incremental());
        BlockDevice noBitmap = new BlockDevice("virtio0", "node0", "/d.qcow2", "qcow2", MIB, 65536, false, List.of());
        RefusedException e = assertThrows(RefusedException.class,
                () -> now.decide(Level.INC, NewChainPolicy.DEFAULT, noBitmap, chain));
        assertTrue(e.getMessage().contains("cannot take an incremental backup of virtio0: bitmap "
                + chain.bitmap().orElseThrow() + " is missing on the VM"), e.getMessage());
        assertThrows(RefusedException.class, () -> now.decide(Level.INC, NewChainPolicy.DEFAULT, noBitmap, null));
    }

    @Test
    void everyReasonAnIncrementalCannotBeIsNamed() {
        Chain chain = NewChainPolicyTest.chain(T0, 1);
        String name = chain.bitmap().orElseThrow();
        assertEquals("no backup chain yet", LevelPolicy.whyNoIncremental(disk(chain), null));
        assertTrue(LevelPolicy.whyNoIncremental(disk(chain), new Chain("virtio0", chain.chainId(), chain.dir(),
                chain.backups(), "operator")).contains("is closed (operator)"));
        assertTrue(LevelPolicy.whyNoIncremental(with(new DirtyBitmap(name, true, false, true, true, 65536, 0), MIB),
                chain).contains("inconsistent"));
        assertTrue(LevelPolicy.whyNoIncremental(with(new DirtyBitmap(name, true, true, true, false, 65536, 0), MIB),
                chain).contains("busy"));
        assertTrue(LevelPolicy.whyNoIncremental(with(new DirtyBitmap(name, false, false, true, false, 65536, 0), MIB),
                chain).contains("disabled"));
        assertTrue(LevelPolicy.whyNoIncremental(with(new DirtyBitmap(name, true, false, true, false, 65536, 0), 2 * MIB),
                chain).contains("size changed from " + MIB + " to " + 2 * MIB));
        assertNull(LevelPolicy.whyNoIncremental(disk(chain), chain));
    }

    @Test
    void anInjectedClockDrivesTheAgePolicyOfRealBackups() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 64 * MIB);
        BackupRequest req = BackupRequest.of(null, dir.resolve("backups")).withNewChainPolicy(NewChainPolicy.parse("1W"));
        List<BackupManifest> made = new ArrayList<>();
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).running(true).start()) {
            made.add(ChainBackupTest.single(Exporter.backup(req, vm.qmp())).manifest());
            made.add(ChainBackupTest.single(Exporter.backup(req, vm.qmp(), Clock.systemUTC())).manifest());
            // Eight days on, as far as the policy can tell: the chain is a week old.
            Clock later = Clock.offset(Clock.systemUTC(), Duration.ofDays(8));
            made.add(ChainBackupTest.single(Exporter.backup(req, vm.qmp(), later)).manifest());
            vm.quit();
        }
        assertEquals(List.of(BackupManifest.Level.FULL, BackupManifest.Level.INC, BackupManifest.Level.FULL),
                made.stream().map(BackupManifest::level).toList());
        assertEquals(made.get(0).chainId(), made.get(1).chainId());
        assertFalse(made.get(1).chainId().equals(made.get(2).chainId()));
    }

    private static LevelPolicy at(Instant now) {
        return new LevelPolicy(Clock.fixed(now, ZoneOffset.UTC));
    }

    /** The disk as QEMU would show it while the chain can go on: its bitmap present, consistent and recording. */
    private static BlockDevice disk(Chain chain) {
        return with(new DirtyBitmap(chain.bitmap().orElseThrow(), true, false, true, false, 65536, 0), MIB);
    }

    private static BlockDevice with(DirtyBitmap bitmap, long size) {
        return new BlockDevice("virtio0", "node0", "/d.qcow2", "qcow2", size, 65536, false, List.of(bitmap));
    }
}

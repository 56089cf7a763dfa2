package io.resilientkvm.exporter.repository;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.backup.Sha256;
import io.resilientkvm.engine.backup.VerifyReport;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.exporter.image.QemuImg;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The layout, manifests and verification, without a VM (qemu-img only). */
class RepositoryTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private final Clock clock = Clock.fixed(Instant.parse("2026-11-24T10:00:00Z"), ZoneOffset.UTC);

    @Test
    void aChainOfEmptyImagesIsListedVerifiedAndDamageIsFound() throws Exception {
        Repository repo = new Repository(dir, clock);
        PendingBackup full = repo.begin("virtio0", Level.FULL, null, "qmpbackup-virtio0-");
        assertEquals("20261124T100000.000Z", full.chainId());
        assertEquals("qmpbackup-virtio0-20261124T100000.000Z", full.bitmap());
        assertTrue(full.partialFile().toString().endsWith("FULL-20261124T100000.000Z.qcow2.partial"));
        QemuImg.createFull(full.partialFile(), 16 * MIB, 65536);
        BackupManifest m0 = repo.complete(full, "vm", 16 * MIB, 7, figures());
        assertEquals(7, m0.epoch());
        assertEquals(Sha256.of(full.file()), m0.sha256());

        Chain chain = repo.newestChain("virtio0").orElseThrow();
        // Same clock: the incremental's name must still be unique and sort after its parent.
        PendingBackup inc1 = repo.begin("virtio0", Level.INC, chain, "ignored");
        assertEquals(1, inc1.sequence());
        assertEquals(full.file().getFileName().toString(), inc1.parent());
        QemuImg.createIncremental(inc1.partialFile(), inc1.parent(), 16 * MIB, 65536);
        repo.complete(inc1, "vm", 16 * MIB, 7, figures());
        chain = repo.newestChain("virtio0").orElseThrow();
        PendingBackup inc2 = repo.begin("virtio0", Level.INC, chain, "ignored");
        assertTrue(inc2.file().getFileName().toString().compareTo(inc1.file().getFileName().toString()) > 0);
        QemuImg.createIncremental(inc2.partialFile(), inc2.parent(), 16 * MIB, 65536);
        repo.complete(inc2, "vm", 16 * MIB, 7, figures());

        chain = repo.newestChain("virtio0").orElseThrow();
        assertEquals(3, chain.backups().size());
        assertEquals(inc2.file().getFileName().toString(), repo.newestBackup("virtio0").orElseThrow().file());
        assertTrue(ChainVerifier.verify(chain).ok(), ChainVerifier.verify(chain).problems().toString());

        // A flipped byte, then a missing file.
        Files.write(inc1.file(), new byte[] {1}, StandardOpenOption.APPEND);
        VerifyReport damaged = ChainVerifier.verify(chain);
        assertFalse(damaged.ok());
        assertTrue(damaged.problems().get(0).contains(inc1.file().getFileName().toString()), damaged.problems().toString());
        Files.delete(inc2.file());
        assertTrue(ChainVerifier.verify(chain).problems().stream().anyMatch(p -> p.contains("missing")));

        // A second full opens a newer chain even with the same clock.
        PendingBackup again = repo.begin("virtio0", Level.FULL, null, "qmpbackup-virtio0-");
        assertTrue(again.chainId().compareTo(full.chainId()) > 0);
        repo.abandon(again);
        assertEquals(1, repo.chains("virtio0").size());
    }

    @Test
    void staleFilesAreRemovedAndTheirChainClosed() throws Exception {
        Repository repo = new Repository(dir, clock);
        PendingBackup full = repo.begin("d", Level.FULL, null, "b-");
        QemuImg.createFull(full.partialFile(), MIB, 65536);
        repo.complete(full, "vm", MIB, 0, figures());
        Path orphan = full.file().resolveSibling("INC-x.qcow2");
        Path partial = full.file().resolveSibling("INC-y.qcow2.partial");
        Path tmp = full.file().resolveSibling("INC-z.qcow2.json.tmp");
        for (Path p : new Path[] {orphan, partial, tmp}) {
            Files.writeString(p, "junk");
        }
        assertEquals(3, repo.cleanStale().size());
        assertFalse(Files.exists(orphan) || Files.exists(partial) || Files.exists(tmp));
        Chain chain = repo.newestChain("d").orElseThrow();
        assertFalse(chain.isOpen());
        assertTrue(chain.closedReason().contains("interrupted"));
        assertTrue(Files.exists(full.file()));
        assertTrue(repo.cleanStale().isEmpty());

        // A full that never completed leaves no chain behind.
        PendingBackup crashedFull = repo.begin("e", Level.FULL, null, "b-");
        Files.writeString(crashedFull.partialFile(), "junk");
        assertEquals(1, repo.cleanStale().size());
        assertTrue(repo.chains("e").isEmpty());
    }

    @Test
    void aPublicationThatFailsLeavesNeitherTheFileNorItsPartial() throws Exception {
        Repository repo = new Repository(dir, clock);
        PendingBackup full = repo.begin("virtio0", Level.FULL, null, "qmpbackup-virtio0-");
        QemuImg.createFull(full.partialFile(), 16 * MIB, 65536);
        // A folder where the manifest must go: its atomic rename fails for real.
        Path manifest = BackupManifest.manifestPath(full.file());
        Files.createDirectories(manifest.resolve("occupied"));
        assertThrows(IOException.class, () -> repo.complete(full, "vm", 16 * MIB, 0, figures()));
        assertFalse(Files.exists(full.file()));
        assertFalse(Files.exists(full.partialFile()));
        assertFalse(Files.exists(manifest.resolveSibling(manifest.getFileName() + AtomicFiles.TMP_SUFFIX)));
    }

    private JobFigures figures() {
        return new JobFigures(clock.instant(), clock.instant().plusMillis(5), 42);
    }
}

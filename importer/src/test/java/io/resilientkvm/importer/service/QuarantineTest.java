package io.resilientkvm.importer.service;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class QuarantineTest {
    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
    private static final String KEY = "virtio0/20261201T100000.000Z/FULL-20261201T100000.000Z.qcow2";

    private static BackupManifest manifest(String sha) {
        return new BackupManifest(BackupManifest.FORMAT_VERSION, "demo", "virtio0", "20261201T100000.000Z", 0,
                Level.FULL, "FULL-20261201T100000.000Z.qcow2", null, "qmpbackup-virtio0-x", 1 << 20, 4096, sha, T0, T0,
                T0, 1, 4096, 10);
    }

    @Test
    void aBackupGivenUpIsSkippedWhileItsManifestStaysTheSame() {
        Quarantine q = new Quarantine(Duration.ofHours(1));
        BackupManifest bad = manifest("a".repeat(64));
        assertEquals(Optional.empty(), q.reason(KEY, bad, T0));
        q.giveUp(KEY, bad, "SHA-256 differs", T0);
        assertEquals(Optional.of("SHA-256 differs"), q.reason(KEY, bad, T0.plusSeconds(30)));
        assertEquals(Optional.of("SHA-256 differs"), q.reason(KEY, bad, T0.plus(Duration.ofMinutes(59))));
    }

    @Test
    void aChangedManifestIsTriedAgainAtOnce() {
        Quarantine q = new Quarantine(Duration.ofHours(1));
        q.giveUp(KEY, manifest("a".repeat(64)), "SHA-256 differs", T0);
        assertEquals(Optional.empty(), q.reason(KEY, manifest("b".repeat(64)), T0.plusSeconds(1)));
        // Tried again means forgotten: the old manifest, published anew, is tried too.
        assertEquals(Optional.empty(), q.reason(KEY, manifest("a".repeat(64)), T0.plusSeconds(2)));
    }

    @Test
    void afterTheLongWaitTheSameManifestIsTriedAgain() {
        Quarantine q = new Quarantine(Duration.ofHours(1));
        BackupManifest bad = manifest("a".repeat(64));
        q.giveUp(KEY, bad, "404", T0);
        assertEquals(Optional.empty(), q.reason(KEY, bad, T0.plus(Duration.ofHours(1))));
    }

    @Test
    void backupsNoLongerPublishedAreForgotten() {
        Quarantine q = new Quarantine(Duration.ofHours(1));
        BackupManifest bad = manifest("a".repeat(64));
        q.giveUp(KEY, bad, "404", T0);
        q.retainOnly(Set.of("other/key"));
        assertEquals(Optional.empty(), q.reason(KEY, bad, T0.plusSeconds(1)));
    }
}

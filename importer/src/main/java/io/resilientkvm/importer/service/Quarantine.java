package io.resilientkvm.importer.service;

import io.resilientkvm.engine.backup.BackupManifest;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The published backups this clone gave up on (their bytes never matched the manifest, the main
 * no longer has them, the image is broken): skipped, not fetched again every round like after a
 * network blip. An entry holds while the published manifest is the same one; a different
 * manifest under that name (a new backup, a new epoch) or {@code giveUpFor} later, it is tried
 * again. Used by the importer's single thread only.
 */
final class Quarantine {
    private record Entry(BackupManifest manifest, String reason, Instant until) {}

    private final Duration giveUpFor;
    private final Map<String, Entry> entries = new HashMap<>();

    Quarantine(Duration giveUpFor) {
        this.giveUpFor = giveUpFor;
    }

    /** Why {@code published} (named {@code key}) was given up, or empty when it is to be tried (again). */
    Optional<String> reason(String key, BackupManifest published, Instant now) {
        Entry e = entries.get(key);
        if (e == null) {
            return Optional.empty();
        }
        if (!e.manifest().equals(published) || !now.isBefore(e.until())) {
            entries.remove(key);
            return Optional.empty();
        }
        return Optional.of(e.reason());
    }

    /** Gives {@code m} up until its manifest changes or {@code giveUpFor} passed. */
    void giveUp(String key, BackupManifest m, String reason, Instant now) {
        entries.put(key, new Entry(m, reason, now.plus(giveUpFor)));
    }

    /** Forgets the backups no longer published (pruned by the main), so the map does not grow. */
    void retainOnly(Set<String> publishedKeys) {
        entries.keySet().retainAll(publishedKeys);
    }
}

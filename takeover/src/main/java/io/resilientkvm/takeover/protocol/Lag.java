package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.zk.ImporterStatus.Point;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * How far a held point is behind the newest published backup of its disk.
 *
 * @param backups published backups of the disk that come after the held point
 * @param time    the newest published backup's capture time minus the held point's (zero when not behind)
 */
public record Lag(int backups, Duration time) {
    public static final Lag NONE = new Lag(0, Duration.ZERO);

    public Lag {
        if (backups < 0) {
            throw new IllegalArgumentException("backups behind must be >= 0, got " + backups);
        }
        Objects.requireNonNull(time, "time");
    }

    public boolean behind() {
        return backups > 0;
    }

    /**
     * The lag of {@code held} (null: holds nothing) against {@code published}, the published
     * manifests of one disk in backup order.
     */
    public static Lag of(List<BackupManifest> published, Point held) {
        if (published.isEmpty()) {
            return NONE;
        }
        BackupManifest newest = published.get(published.size() - 1);
        int after = 0;
        for (BackupManifest m : published) {
            if (held == null || !held.atLeast(m.chainId(), m.sequence())) {
                after++;
            }
        }
        if (after == 0) {
            return NONE;
        }
        Duration time = held == null ? Duration.ZERO : Duration.between(held.takenAt(), newest.startedAt());
        return new Lag(after, time.isNegative() ? Duration.ZERO : time);
    }

    /** "2 backups, 00:02:00 behind". */
    @Override
    public String toString() {
        return backups == 0 ? "up to date" : backups + (backups == 1 ? " backup, " : " backups, ") + hms(time) + " behind";
    }

    /** A duration as HH:MM:SS (hours may exceed 24), for operators. */
    public static String hms(Duration d) {
        long s = Math.max(0, d.toSeconds());
        return String.format("%02d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }

    /** "INC #3 of chain X" / "FULL #0 of chain X". */
    static String describe(String chainId, int sequence) {
        return (sequence == 0 ? "FULL #0" : "INC #" + sequence) + " of chain " + chainId;
    }
}

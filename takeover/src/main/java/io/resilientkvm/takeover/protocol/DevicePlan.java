package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.zk.ImporterStatus.Point;
import java.time.Duration;
import java.util.Objects;

/**
 * What the new main will restore for one disk.
 *
 * @param device    the disk
 * @param restore   the point this node holds verified and will restore; null when it holds none (only with --force)
 * @param published the newest backup the main published for this disk; null when none is published
 * @param lag       how far {@code restore} is behind {@code published}
 * @param dataAge   planning time minus the restore point's capture time (the expected RPO); null without a point
 */
public record DevicePlan(String device, Point restore, BackupManifest published, Lag lag, Duration dataAge) {
    public DevicePlan {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(lag, "lag");
    }
}

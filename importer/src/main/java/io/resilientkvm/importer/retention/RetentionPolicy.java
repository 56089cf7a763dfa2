package io.resilientkvm.importer.retention;

import io.resilientkvm.engine.params.ResilientParameters;
import io.resilientkvm.engine.params.RetentionAge;
import java.util.Objects;

/**
 * Which backups a clone keeps, from the resilient parameters: every backup younger than
 * {@code remove-backup-older-than}, the {@code backup-keep-last} newest, and the newest backup
 * of each of the last {@code backup-keep-daily} days, {@code -weekly} ISO weeks and
 * {@code -monthly} months that have backups (restic's and borg's rules). Chains are kept or
 * removed whole: see {@link RetentionPlanner}.
 */
public record RetentionPolicy(RetentionAge removeOlderThan, int keepLast, int keepDaily, int keepWeekly, int keepMonthly) {
    /** The schema's defaults: 2W, 24 last, 7 daily, 4 weekly, 3 monthly. */
    public static final RetentionPolicy DEFAULT = new RetentionPolicy(RetentionAge.parse("2W"), 24, 7, 4, 3);

    public RetentionPolicy {
        Objects.requireNonNull(removeOlderThan, "removeOlderThan");
        if (keepLast < 1) {
            throw new IllegalArgumentException("backup-keep-last must be at least 1 (the newest backup is always kept), got "
                    + keepLast);
        }
        if (keepDaily < 0 || keepWeekly < 0 || keepMonthly < 0) {
            throw new IllegalArgumentException("backup-keep-daily/-weekly/-monthly must be 0 or more, got " + keepDaily
                    + "/" + keepWeekly + "/" + keepMonthly);
        }
    }

    /** The policy of an instance's resilient parameters. */
    public static RetentionPolicy of(ResilientParameters p) {
        return new RetentionPolicy(p.removeOlderThan(), p.keepLast(), p.keepDaily(), p.keepWeekly(), p.keepMonthly());
    }

    @Override
    public String toString() {
        return "remove-backup-older-than " + removeOlderThan + ", keep-last " + keepLast + ", keep-daily " + keepDaily
                + ", keep-weekly " + keepWeekly + ", keep-monthly " + keepMonthly;
    }
}

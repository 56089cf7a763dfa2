/**
 * When backups run: a unix cron (SlapOS's {@code resiliency-backup-periodicity}, else a random daily
 * time chosen once per instance and kept, {@link io.resilientkvm.exporter.schedule.BackupTime})
 * converted for Quartz, and a per-VM scheduler that never runs two backups of the same VM at once.
 */
package io.resilientkvm.exporter.schedule;

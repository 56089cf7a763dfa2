/**
 * When backups run: a unix cron (SlapOS's {@code resiliency-backup-periodicity}) converted for
 * Quartz, and a per-VM scheduler that never runs two backups of the same VM at once.
 */
package io.resilientkvm.exporter.schedule;

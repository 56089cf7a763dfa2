/**
 * Backup chains on the main node: live full and incremental backups through QMP with persistent dirty bitmaps.
 */
package io.resilientkvm.exporter;

package io.resilientkvm.exporter;

import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.exporter.qmp.BlockDevice;
import io.resilientkvm.exporter.repository.PendingBackup;

/**
 * One disk's part of a run: the disk, its reserved files and level, and the chain it extends.
 *
 * @param chain the disk's newest chain before this run; null when it had none
 */
record DevicePlan(BlockDevice device, PendingBackup pending, Chain chain) {
}

package io.resilientkvm.exporter.qmp;

import java.nio.file.Path;

/**
 * One disk's backup job within a transaction.
 *
 * @param device      the disk
 * @param incremental true for {@code sync=incremental} with {@link #bitmap}, false for {@code sync=full}
 * @param target      the qcow2 file (already created with qemu-img) that QEMU writes
 * @param bitmap      the chain's bitmap
 * @param addBitmap   true when a full starts a new chain: the bitmap is created atomically with the job
 */
public record JobSpec(BlockDevice device, boolean incremental, Path target, String bitmap, boolean addBitmap) {
}

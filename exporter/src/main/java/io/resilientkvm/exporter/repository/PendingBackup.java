package io.resilientkvm.exporter.repository;

import io.resilientkvm.engine.backup.BackupManifest.Level;
import java.nio.file.Path;

/**
 * A backup being written: its final name is reserved, QEMU writes {@link #partialFile()}, and
 * {@link Repository#complete} publishes it (or {@link Repository#abandon} removes it).
 *
 * @param device      the disk's folder name
 * @param chainId     the chain's folder name
 * @param sequence    0 for a full, else the parent's sequence + 1
 * @param level       FULL or INC
 * @param file        the final file
 * @param partialFile the file written while the backup runs
 * @param parent      the backing file's name for an incremental, else null
 * @param bitmap      the chain's bitmap name
 */
public record PendingBackup(String device, String chainId, int sequence, Level level, Path file, Path partialFile,
        String parent, String bitmap) {
}

package io.resilientkvm.importer.transfer;

import io.resilientkvm.engine.backup.BackupManifest;
import java.nio.file.Path;

/**
 * A backup now complete in the clone's repository.
 *
 * @param manifest    the backup's manifest (as written beside the file)
 * @param file        the backup file in the clone's repository
 * @param bytes       bytes received over the network, all attempts together (0 when already here)
 * @param seconds     wall time of the fetch
 * @param resumedFrom the offset the successful attempt started at (0: from the start)
 * @param attempts    HTTP attempts made (0 when the backup was already complete here)
 */
public record FetchResult(BackupManifest manifest, Path file, long bytes, double seconds, long resumedFrom,
        int attempts) {
}

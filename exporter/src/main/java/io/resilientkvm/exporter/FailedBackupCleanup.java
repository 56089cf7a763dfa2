package io.resilientkvm.exporter;

import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.exporter.repository.Repository;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a failed disk backup leaves: no file, no new bitmap, and the chain's bitmap bits kept,
 * so a retry loses nothing; or, when an incremental's bits are gone with its file, a closed chain.
 */
final class FailedBackupCleanup {
    private static final Logger LOG = LoggerFactory.getLogger(FailedBackupCleanup.class);

    private final Repository repo;
    private final BitmapMaintenance bitmaps;

    FailedBackupCleanup(Repository repo, BitmapMaintenance bitmaps) {
        this.repo = repo;
        this.bitmaps = bitmaps;
    }

    /** A failed backup leaves no file, and a failed full leaves no new bitmap. */
    void cleanUp(DevicePlan p) throws IOException {
        repo.abandon(p.pending());
        if (p.pending().level() == Level.FULL) {
            try {
                bitmaps.remove(p.device(), p.pending().bitmap());
            } catch (QmpException e) {
                LOG.debug("{}: no new bitmap to remove: {}", p.device().name(), e.getMessage());
            }
        }
    }

    /**
     * A successful incremental job cleared its bitmap's bits; if its file is then lost, those
     * writes are in no backup: the chain must end here, so the next run takes a full.
     */
    void forgetChain(DevicePlan p, String reason) {
        LOG.warn("{}: {}; chain {} takes no more incrementals, the next backup is a full", p.device().name(),
                reason, p.pending().chainId());
        try {
            bitmaps.remove(p.device(), p.pending().bitmap());
        } catch (QmpException e) {
            LOG.warn("{}: could not remove bitmap {}: {}", p.device().name(), p.pending().bitmap(), e.getMessage());
        }
        try {
            if (p.chain() != null) {
                repo.close(p.chain(), reason);
            }
        } catch (IOException e) {
            LOG.warn("{}: could not close chain {}: {}", p.device().name(), p.pending().chainId(), e.getMessage());
        }
    }
}

package io.resilientkvm.node;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ManifestCatalog;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backups a main took while cut from ZooKeeper (fail-safe mode) stay in its repository,
 * unpublished; once ZooKeeper is back and the epoch verified, they are published in backup
 * order, so the clones catch up and none is lost. Per disk it walks back from the newest chain
 * until a chain whose newest backup is published, and in each chain from its newest backup
 * until a published one, as {@link MainRole#publish} does for one chain: a few reads normally.
 */
final class FailsafePublication {
    private static final Logger LOG = LoggerFactory.getLogger(FailsafePublication.class);

    private FailsafePublication() {
    }

    /** Publishes what this epoch left unpublished; returns how many it published. */
    static int publishPending(ManifestCatalog catalog, Epoch epoch, Path repository) throws OperatorException {
        List<BackupManifest> pending = new ArrayList<>();
        BackupRepository repo = new BackupRepository(repository);
        try {
            for (String device : repo.devices()) {
                List<Chain> chains = repo.chains(device);
                for (int c = chains.size() - 1; c >= 0; c--) {
                    List<BackupManifest> backups = chains.get(c).backups();
                    if (backups.isEmpty()) {
                        continue;
                    }
                    BackupManifest newest = backups.get(backups.size() - 1);
                    if (newest.epoch() != epoch.number() || catalog.isPublished(newest)) {
                        break; // an older chain was published while ZooKeeper was there
                    }
                    pending.addAll(MainRole.unpublishedBefore(catalog, epoch, repository, newest));
                    pending.add(newest);
                }
            }
        } catch (IOException e) {
            throw new OperationFailedException("reading the backups in " + repository + " to publish: " + e.getMessage(), e);
        }
        if (!pending.isEmpty()) {
            catalog.publishAll(epoch, pending); // sorted in backup order there
            LOG.warn("Published {} backup(s) taken while cut from ZooKeeper: {}", pending.size(), pending.stream()
                    .map(m -> m.device() + "/" + m.chainId() + " #" + m.sequence()).toList());
        }
        return pending.size();
    }
}

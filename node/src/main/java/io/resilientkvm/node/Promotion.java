package io.resilientkvm.node;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.lifecycle.PausePoint;
import io.resilientkvm.engine.params.ExternalDiskParameter;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.importer.restore.RestoreRequest;
import io.resilientkvm.importer.restore.RestoreResult;
import io.resilientkvm.importer.restore.Restorer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first step of a promoted clone: every disk the VM needs is put back from this clone's
 * newest verified backup as an instant overlay (milliseconds whatever the disk size); the
 * chain under it is held against pruning. A disk file already in the way is kept aside, never
 * deleted.
 *
 * <p>A promotion is finished once {@code etc/promoted-epoch} names its epoch, written durably
 * after every disk was restored and before the VM starts. An agent killed part-way (or down
 * when bin/takeover ran) finds the marker missing or older at its next start and restores
 * again: each disk's restore is atomic (an overlay written aside, then renamed into place) and
 * replaces the hold of an earlier attempt, so redoing it is safe, and the VM never starts on a
 * disk the restore had not put there.
 */
final class Promotion {
    private static final Logger LOG = LoggerFactory.getLogger(Promotion.class);

    private Promotion() {
    }

    /** Restores the VM's disks from the local repository; returns what was restored. */
    static List<RestoreResult> restoreDisks(NodeContext ctx) throws OperatorException {
        InstanceLayout layout = ctx.config().layout();
        KvmParameters p = ctx.params().kvm();
        Restorer restorer = new Restorer(layout.backupRepository());
        List<RestoreResult> restored = new ArrayList<>();
        try {
            for (String device : restorer.repository().devices()) {
                Optional<Path> target = diskOf(p, layout, device);
                if (target.isEmpty()) {
                    LOG.warn("Backups of {} have no disk in this instance's parameters: not restored", device);
                    continue;
                }
                if (restorer.repository().newestBackup(device).isEmpty()) {
                    continue;
                }
                keepAside(target.get());
                Files.createDirectories(target.get().getParent());
                PausePoint.reach(PausePoint.PROMOTION_RESTORE, device);
                RestoreResult r = restorer.instant(RestoreRequest.to(target.get()).withDevice(device)
                        .withVerification(RestoreRequest.Verification.QUICK));
                LOG.info("Restored {} from {} (taken {}) as an overlay at {} in {} ms", device, r.point().name(),
                        r.point().time(), target.get(), Math.round(r.seconds() * 1000));
                restored.add(r);
            }
        } catch (IOException e) {
            throw new OperationFailedException("promotion: cannot restore the disks from " + layout.backupRepository() + ": "
                    + e.getMessage(), e);
        }
        if (restored.isEmpty()) {
            throw new OperationFailedException("promotion: this clone holds no verified backup in " + layout.backupRepository()
                    + "; nothing to start the VM from");
        }
        return restored;
    }

    /**
     * True when this node owns {@code epoch} through a takeover (every epoch after 0 comes from
     * one) and its promotion has not finished here, so the disks must be restored before the VM
     * starts.
     */
    static boolean unfinished(InstanceLayout layout, Epoch epoch) throws OperationFailedException {
        if (epoch.number() == 0) {
            return false; // initialized by the main of -sla-0: nothing was promoted
        }
        Path marker = marker(layout);
        if (!Files.exists(marker)) {
            return true;
        }
        try {
            return Long.parseLong(Files.readString(marker).strip()) < epoch.number();
        } catch (IOException | NumberFormatException e) {
            throw new OperationFailedException("cannot read " + marker + " (" + e.getMessage() + "): it tells whether the"
                    + " promotion to epoch " + epoch.number() + " restored the disks; if the VM ran on the restored disks"
                    + " since, write " + epoch.number() + " into it, else delete it to restore again", e);
        }
    }

    /** Records durably that the disks of {@code epoch}'s promotion are restored. */
    static void markFinished(InstanceLayout layout, Epoch epoch) throws OperationFailedException {
        Path marker = marker(layout);
        try {
            AtomicFiles.createDirectories(marker.getParent());
            AtomicFiles.writeAtomically(marker, epoch.number() + "\n");
        } catch (IOException e) {
            throw new OperationFailedException("promotion: cannot record the restored disks in " + marker + ": "
                    + e.getMessage() + "; the VM is not started", e);
        }
    }

    private static Path marker(InstanceLayout layout) {
        return layout.etc().resolve("promoted-epoch");
    }

    private static Optional<Path> diskOf(KvmParameters p, InstanceLayout layout, String device) {
        if (device.equals(p.diskType().mainDeviceId())) {
            return Optional.of(layout.mainDisk());
        }
        for (ExternalDiskParameter d : p.externalDisks()) {
            if (device.equals(d.deviceId())) {
                return Optional.of(d.path(layout.root()));
            }
        }
        return Optional.empty();
    }

    private static void keepAside(Path disk) throws IOException {
        if (Files.exists(disk)) {
            Path aside = disk.resolveSibling(disk.getFileName() + ".before-takeover-" + Instant.now().toEpochMilli());
            LOG.warn("Keeping the disk that was at {} as {}", disk, aside);
            AtomicFiles.renameDurably(disk, aside);
        }
    }
}

package io.resilientkvm.importer.service;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.backup.ChainVerifier;
import io.resilientkvm.engine.backup.VerifyReport;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.GiveUpException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.error.RetryableException;
import io.resilientkvm.importer.transfer.BackupFetcher;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One published backup and this clone's repository: is it held already (and the same one), is
 * its parent held, and its import: a free-space check, the download (the file only), then
 * {@code qemu-img check} and its backing link, and only then its manifest, so that a manifest
 * here always means "verified"; a file left without its manifest (a crash before it) is verified
 * by the next round before it counts. A backup that fails verification is removed.
 */
final class BackupImport {
    private static final Logger LOG = LoggerFactory.getLogger(BackupImport.class);

    private final Path root;
    private final BackupRepository repository;
    private final Downloader downloader;
    private final long reserve;

    BackupImport(Path root, Downloader downloader, long reserve) {
        this.root = root;
        this.repository = new BackupRepository(root);
        this.downloader = downloader;
        this.reserve = reserve;
    }

    /** {@code device/chain/file}: how logs and rounds name a backup. */
    static String describe(BackupManifest m) {
        return m.device() + "/" + m.chainId() + "/" + m.file();
    }

    /** Where {@code m} lives here; names from ZooKeeper become paths only through the wire contract (plain names). */
    Path localFile(BackupManifest m) {
        return BackupPaths.Ref.of(m).resolve(root);
    }

    /**
     * Whether {@code m} is complete here.
     *
     * @throws RefusedException this clone holds a different backup under that name
     */
    boolean held(BackupManifest m, Path file) throws IOException, BadInputException, RefusedException {
        Path manifest = BackupManifest.manifestPath(file);
        if (!Files.exists(manifest)) {
            return false;
        }
        BackupManifest local = BackupManifest.read(manifest);
        if (!local.sha256().equals(m.sha256())) {
            // Two histories under one name: refuse rather than guess which is right.
            throw new RefusedException("this clone holds " + describe(m) + " with SHA-256 " + local.sha256()
                    + " but the main published " + m.sha256() + "; move " + file.getParent()
                    + " aside and the importer fetches the chain again");
        }
        return true;
    }

    boolean parentHeld(BackupManifest m, Path file) {
        return Files.exists(BackupManifest.manifestPath(file.resolveSibling(m.parent())));
    }

    /**
     * Downloads {@code m} from the backup server at {@code main} and verifies it.
     *
     * @return the bytes transferred
     * @throws GiveUpException     the image is broken (removed again)
     * @throws RetryableException  qemu-img could not check it (removed again, to be imported anew)
     * @throws OperatorException   the download's own failure, typed by what to do next
     */
    long run(URI main, BackupManifest m, Path file) throws OperatorException, IOException {
        long t0 = System.nanoTime();
        if (!Files.exists(file)) {
            requireFreeSpace(m, file);
        }
        long moved = downloader.download(main, m, root);
        verify(m, file);
        BackupFetcher.commit(m, file);
        LOG.info("Imported {} ({} bytes in {} ms), verified", describe(m), moved, (System.nanoTime() - t0) / 1_000_000);
        return moved;
    }

    /**
     * Refuses a download that would leave less than the reserve free: retryable, as retention or
     * an operator may free space.
     */
    private void requireFreeSpace(BackupManifest m, Path file) throws IOException, RetryableException {
        Files.createDirectories(file.getParent());
        long free = Files.getFileStore(file.getParent()).getUsableSpace();
        long needed = m.fileSize() + reserve;
        if (free < needed) {
            throw new RetryableException("not enough free space in the clone repository " + root + " to import "
                    + describe(m) + ": it needs " + needed + " bytes (" + m.fileSize() + " for the backup + a reserve of "
                    + reserve + ") but " + free + " are free; nothing was downloaded. Free space on that file system,"
                    + " or keep fewer backups (backup-keep-* / remove-backup-older-than in the instance parameters),"
                    + " or lower importer.free-space-reserve in the node configuration; the importer retries by itself");
        }
    }

    /** Verifies {@code file} as the newest of its chain, {@code m} not yet written beside it. */
    private void verify(BackupManifest m, Path file) throws IOException, BadInputException, OperationFailedException {
        Chain onDisk = repository.chains(m.device()).stream().filter(c -> c.chainId().equals(m.chainId())).findFirst()
                .orElse(new Chain(m.device(), m.chainId(), file.getParent(), List.of(), null));
        List<BackupManifest> backups = new ArrayList<>(onDisk.backups());
        backups.removeIf(b -> b.sequence() >= m.sequence());
        backups.add(m);
        Chain chain = new Chain(onDisk.device(), onDisk.chainId(), onDisk.dir(), backups, onDisk.closedReason());
        VerifyReport report;
        try {
            report = ChainVerifier.verifyNewest(chain, true);
        } catch (OperationFailedException e) {
            remove(file);
            throw new RetryableException(describe(m) + " was imported but could not be checked (" + e.getMessage()
                    + "); removed, it is imported again", e);
        }
        report.warnings().forEach(w -> LOG.warn("{}", w));
        if (!report.ok()) {
            // Out of history before anything can restore from it; the main's copy is the broken one.
            remove(file);
            throw new GiveUpException(describe(m) + " failed verification after import and was removed: "
                    + String.join("; ", report.problems()) + "; check the main's repository (bin/exporter verify)");
        }
    }

    private static void remove(Path file) throws IOException {
        Files.deleteIfExists(BackupManifest.manifestPath(file));
        Files.deleteIfExists(file);
    }
}

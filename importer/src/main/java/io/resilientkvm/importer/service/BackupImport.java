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
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One published backup and this clone's repository: is it held already (and the same one), is
 * its parent held, and its import (download, then {@code qemu-img check} and its backing link).
 * A backup that fails verification is removed before anything can restore from it.
 */
final class BackupImport {
    private static final Logger LOG = LoggerFactory.getLogger(BackupImport.class);

    private final Path root;
    private final BackupRepository repository;
    private final Downloader downloader;

    BackupImport(Path root, Downloader downloader) {
        this.root = root;
        this.repository = new BackupRepository(root);
        this.downloader = downloader;
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
        long moved = downloader.download(main, m, root);
        verify(m, file);
        LOG.info("Imported {} ({} bytes in {} ms), verified", describe(m), moved, (System.nanoTime() - t0) / 1_000_000);
        return moved;
    }

    private void verify(BackupManifest m, Path file) throws IOException, BadInputException, OperationFailedException {
        Chain chain = repository.chains(m.device()).stream().filter(c -> c.chainId().equals(m.chainId())).findFirst()
                .orElseThrow(() -> new OperationFailedException(describe(m) + ": imported but its chain is not readable"));
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

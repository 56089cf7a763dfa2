package io.resilientkvm.importer.transfer;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Sha256;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where one backup lives in a clone's repository ({@code <root>/<device>/<chain>/<file>}, its
 * {@code .partial} while it streams, its manifest last), and what an earlier run or a crash left
 * there: a complete backup, a file renamed without its manifest, a partial to resume.
 */
final class LocalCopy {
    private static final Logger LOG = LoggerFactory.getLogger(LocalCopy.class);

    final BackupManifest manifest;
    final BackupPaths.Ref ref;
    final Path target;
    final Path partial;
    final Path manifestFile;
    final String what;

    private LocalCopy(BackupManifest manifest, BackupPaths.Ref ref, Path cloneRoot) {
        this.manifest = manifest;
        this.ref = ref;
        this.target = ref.resolve(cloneRoot.toAbsolutePath().normalize());
        this.partial = target.resolveSibling(target.getFileName() + BackupRepository.PARTIAL);
        this.manifestFile = BackupManifest.manifestPath(target);
        this.what = "backup " + ref.device() + "/" + ref.chain() + "/" + ref.file() + " (sequence " + manifest.sequence()
                + ")";
    }

    /** The copy of {@code m} under {@code cloneRoot}; its names must be plain repository names (the wire contract). */
    static LocalCopy of(BackupManifest m, Path cloneRoot) throws BadInputException {
        try {
            BackupPaths.Ref ref = BackupPaths.Ref.of(m);
            if (ref.isManifest()) {
                throw new IllegalArgumentException("file '" + m.file() + "' is a manifest, not a backup file");
            }
            if (m.parent() != null) {
                new BackupPaths.Ref(m.device(), m.chainId(), m.parent());
            }
            return new LocalCopy(m, ref, cloneRoot);
        } catch (IllegalArgumentException e) {
            throw new BadInputException("backup manifest " + m.device() + "/" + m.chainId() + "/" + m.file()
                    + " cannot be fetched: " + e.getMessage());
        }
    }

    /** The file's address on the backup server at {@code base}. */
    URI uri(URI base) {
        return ref.uri(base);
    }

    /**
     * Makes the folder ready and finishes what a crash left: returns the manifest when the backup
     * is already complete here, or when its file is here without its manifest and has the
     * manifest's size and SHA-256 (the manifest is then written by {@link #commit}, after the
     * caller's verification); empty when it must be fetched.
     *
     * @throws RefusedException an incremental whose parent is not complete here, or a different
     *                          backup already complete under the same name
     */
    Optional<BackupManifest> completeHere() throws RefusedException, OperationFailedException {
        try {
            if (Files.exists(manifestFile)) {
                return Optional.of(alreadyHere());
            }
            if (manifest.level() == BackupManifest.Level.INC) {
                Path parent = target.resolveSibling(manifest.parent());
                if (!Files.isRegularFile(parent) || !Files.isRegularFile(BackupManifest.manifestPath(parent))) {
                    throw new RefusedException("refusing to fetch " + what + ": its parent " + manifest.parent()
                            + " is not complete in " + target.getParent() + "; fetch the chain in order");
                }
            }
            Files.createDirectories(target.getParent());
            if (Files.exists(target)) {
                // A crash between the rename and the manifest: keep the file only if its bytes are right;
                // the caller's own verification then decides whether its manifest is written.
                if (Files.size(target) == manifest.fileSize() && Sha256.of(target).equals(manifest.sha256())) {
                    LOG.info("{} was already here without its manifest; its size and SHA-256 match", what);
                    return Optional.of(manifest);
                }
                LOG.warn("{}: dropping {} left without a manifest (size or SHA-256 differ)", what, target);
                Files.delete(target);
            }
            return Optional.empty();
        } catch (IOException e) {
            throw new OperationFailedException(what + ": cannot prepare " + target.getParent() + " (" + e.getMessage()
                    + "); check the clone's repository folder", e);
        }
    }

    private BackupManifest alreadyHere() throws IOException, RefusedException {
        BackupManifest here;
        try {
            here = BackupManifest.read(manifestFile);
        } catch (BadInputException e) {
            throw new RefusedException(what + ": " + manifestFile + " exists but is unreadable (" + e.getMessage()
                    + "); move it away by hand if the backup should be fetched again", e);
        }
        if (!here.sha256().equals(manifest.sha256()) || here.fileSize() != manifest.fileSize()
                || !Files.isRegularFile(target)) {
            throw new RefusedException(what + ": a different backup is already complete under that name in "
                    + target.getParent() + " (SHA-256 " + here.sha256() + "); refusing to overwrite history");
        }
        return here;
    }

    /**
     * The length of the partial file an earlier attempt (or process) left, to resume from; a
     * partial longer than the manifest's size cannot be this backup and is deleted (0).
     */
    long resumableLength() throws IOException {
        long length = Files.exists(partial) ? Files.size(partial) : 0;
        if (length > manifest.fileSize()) {
            LOG.warn("{}: {} is longer than the manifest's {} bytes; starting over", what, partial, manifest.fileSize());
            Files.delete(partial);
            return 0;
        }
        return length;
    }

    /** Drops the partial file: its bytes are not this backup's. */
    void dropPartial() throws IOException {
        Files.deleteIfExists(partial);
    }

    /** Drops the partial file when no further attempt follows; a failure to do so is only logged. */
    void dropPartialQuietly() {
        try {
            Files.deleteIfExists(partial);
        } catch (IOException e) {
            LOG.warn("Cannot delete {}: {}", partial, e.toString());
        }
    }

    /** Keeps the partial whose size and SHA-256 matched: synced and renamed, still without its manifest. */
    void store() throws OperationFailedException {
        try {
            AtomicFiles.forceAndRename(partial, target);
        } catch (IOException e) {
            throw new OperationFailedException(what + ": verified but cannot store it as " + target + " ("
                    + e.getMessage() + "); check the clone's disk", e);
        }
    }

    /** Writes {@code m}'s manifest beside {@code file} (durably), which makes it history: only once verified. */
    static void commit(BackupManifest m, Path file) throws OperationFailedException {
        try {
            AtomicFiles.writeAtomically(BackupManifest.manifestPath(file), m.toJson());
        } catch (IOException e) {
            throw new OperationFailedException("backup " + m.device() + "/" + m.chainId() + "/" + m.file()
                    + ": verified but cannot write its manifest beside " + file + " (" + e.getMessage()
                    + "); check the clone's disk", e);
        }
    }
}

package io.resilientkvm.importer.service;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.OperatorException;
import java.net.URI;
import java.nio.file.Path;

/** Moves one published backup from the main into this clone's repository. */
@FunctionalInterface
public interface Downloader {
    /**
     * Downloads {@code manifest}'s file from the main's backup server at {@code main}, checks its
     * size and SHA-256 while streaming, then publishes it in {@code repository} (file first,
     * manifest last); a backup that fails its checks never enters the repository.
     *
     * @return the bytes transferred
     * @throws OperatorException whose {@code nextStep()} tells the importer what to do: retry later,
     *         give this backup up until its manifest changes, or stop the round (refused, bad input)
     */
    long download(URI main, BackupManifest manifest, Path repository) throws OperatorException;
}

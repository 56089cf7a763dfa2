package io.resilientkvm.importer.transfer;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.TlsContexts;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.GiveUpException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.error.RetryableException;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pulls one backup from the main's backup server into a clone's repository (see
 * {@code docs/backup-server.md}). The file streams to {@code <file>.partial} and is hashed on
 * the way ({@link FetchAttempt}); a partial left by a cut transfer is resumed with a
 * {@code Range}. A wrong size or SHA-256 throws the partial away and fetches again, a bounded
 * number of times with backoff ({@link RetryLoop}). Only a file whose size and SHA-256 match is
 * synced and renamed; its manifest, which is what makes it part of the clone's history, is written
 * last: by {@link #fetch} at once, or, after {@link #fetchFile}, by the caller once its own
 * verification passed ({@link #commit}; the importer runs {@code qemu-img check} first), so that
 * "a manifest exists" always means "verified" ({@link LocalCopy} also finishes what a crash left).
 * Thread-safe: several fetches may run at once (distinct backups).
 */
public final class BackupFetcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BackupFetcher.class);

    private final TransferSettings settings;
    private final RetryLoop retries;
    private final HttpClient client;
    private final ScheduledExecutorService watchdog;

    public BackupFetcher(TransferSettings settings) throws BadInputException {
        this(settings, Sleeper.REAL);
    }

    public BackupFetcher(TransferSettings settings, Sleeper sleeper) throws BadInputException {
        this.settings = settings;
        this.retries = new RetryLoop(settings, sleeper);
        HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(settings.connectTimeout()).followRedirects(HttpClient.Redirect.NEVER);
        if (settings.pinned().isPresent()) {
            // The main's pinned certificate is its identity: no CA and no host name is consulted (PinnedTrust).
            TransferSettings.PinnedMain p = settings.pinned().get();
            b.sslContext(TlsContexts.mutual(p.identity().keystore(), p.identity().keystorePasswordFile(), "tls.keystore",
                    p.trust().trustManager()));
        } else if (settings.truststore().isPresent()) {
            b.sslContext(TlsContexts.trusting(settings.truststore().get(), settings.truststorePasswordFile().orElseThrow()));
        }
        this.client = b.build();
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "backup-fetch-watchdog");
            t.setDaemon(true);
            return t;
        });
    }

    /** The settings in use. */
    public TransferSettings settings() {
        return settings;
    }

    /**
     * Makes the backup {@code m} complete in the repository under {@code cloneRoot}, as
     * {@code <root>/<device>/<chain>/<file>} plus its manifest. Returns at once (0 attempts)
     * when it is already complete here.
     *
     * @throws BadInputException   the manifest names something that is not a repository path
     * @throws RefusedException    an incremental whose parent is not complete here, a different backup
     *                             already complete under the same name, the server refused the token, the
     *                             server's certificate is not the trusted one (or it refused ours), or the
     *                             main's address is not safe to fetch from ({@link TransferSettings#refusal()})
     * @throws GiveUpException     this backup cannot be fetched as published: the server does not have
     *                             it (404), or its bytes never matched the manifest in every attempt
     * @throws RetryableException  every attempt failed on the network (the message names the backup, the
     *                             attempts and the last reason)
     * @throws OperationFailedException the clone's repository cannot be written
     */
    public FetchResult fetch(BackupManifest m, Path cloneRoot)
            throws BadInputException, RefusedException, OperationFailedException, InterruptedException {
        FetchResult r = fetchFile(m, cloneRoot);
        commit(m, r.file());
        return r;
    }

    /**
     * As {@link #fetch}, but leaves the file without its manifest: the caller verifies it and then
     * {@link #commit}s it, or deletes it. A file already here without its manifest (a crash before
     * the commit) is kept when its size and SHA-256 match (0 attempts), else fetched anew.
     */
    public FetchResult fetchFile(BackupManifest m, Path cloneRoot)
            throws BadInputException, RefusedException, OperationFailedException, InterruptedException {
        long t0 = System.nanoTime();
        Optional<String> refused = settings.refusal();
        if (refused.isPresent()) {
            throw new RefusedException("not fetching " + m.file() + ": " + refused.get());
        }
        LocalCopy copy = LocalCopy.of(m, cloneRoot);
        Optional<BackupManifest> here = copy.completeHere();
        if (here.isPresent()) {
            return new FetchResult(here.get(), copy.target, 0, seconds(t0), 0, 0);
        }
        RetryLoop.Success ok = retries.run(copy.what, n -> new FetchAttempt(client, settings, watchdog, copy).run());
        copy.store();
        FetchResult r = new FetchResult(m, copy.target, ok.received(), seconds(t0), ok.last().resumedFrom(), ok.attempts());
        LOG.info("Fetched {}: {} bytes in {} s, {} attempt(s), resumed from {}", copy.what, r.bytes(),
                String.format("%.3f", r.seconds()), r.attempts(), r.resumedFrom());
        return r;
    }

    /** Writes {@code m}'s manifest beside its verified {@code file} (a no-op when it is there already). */
    public static void commit(BackupManifest m, Path file) throws OperationFailedException {
        if (!Files.exists(BackupManifest.manifestPath(file))) {
            LocalCopy.commit(m, file);
        }
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    /** Stops the stall watchdog. */
    @Override
    public void close() {
        watchdog.shutdownNow();
    }
}

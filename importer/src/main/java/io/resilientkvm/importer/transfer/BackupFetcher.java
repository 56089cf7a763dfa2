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
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.OptionalLong;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pulls one backup from the main's backup server into a clone's repository (see
 * {@code docs/backup-server.md}). The file streams to {@code <file>.partial} and is hashed on
 * the way; a partial left by a cut transfer is resumed with a {@code Range}. A wrong size or
 * SHA-256 throws the partial away and fetches again, a bounded number of times with
 * exponential backoff and jitter. Only a verified file is synced and renamed, and its manifest
 * is written last, which is what makes it part of the clone's history.
 * Thread-safe: several fetches may run at once (distinct backups).
 */
public final class BackupFetcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BackupFetcher.class);
    private static final int BUFFER = 1 << 20;
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes ([0-9]+)-([0-9]+)/([0-9]+)");

    static {
        // The JDK client reads the socket in 16 KiB buffers by default; 256 KiB halves the CPU
        // spent per byte on a loopback or LAN transfer (measured by bench/importer). The JDK reads
        // the property once, when its first client is built; an explicit setting wins.
        if (System.getProperty("jdk.httpclient.bufsize") == null) {
            System.setProperty("jdk.httpclient.bufsize", Integer.toString(256 * 1024));
        }
    }

    /** Waits between attempts; tests may inject one that records instead of sleeping. */
    @FunctionalInterface
    public interface Sleeper {
        void sleep(Duration d) throws InterruptedException;
    }

    private final TransferSettings settings;
    private final Sleeper sleeper;
    private final HttpClient client;
    private final ScheduledExecutorService watchdog;

    public BackupFetcher(TransferSettings settings) throws BadInputException {
        this(settings, d -> Thread.sleep(d.toMillis()));
    }

    public BackupFetcher(TransferSettings settings, Sleeper sleeper) throws BadInputException {
        this.settings = settings;
        this.sleeper = sleeper;
        HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(settings.connectTimeout()).followRedirects(HttpClient.Redirect.NEVER);
        if (settings.truststore().isPresent()) {
            b.sslContext(trusting(settings.truststore().get(), settings.truststorePasswordFile().orElseThrow()));
        }
        this.client = b.build();
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "backup-fetch-watchdog");
            t.setDaemon(true);
            return t;
        });
    }

    private static SSLContext trusting(Path store, Path passwordFile) throws BadInputException {
        char[] password = BackupPaths.readSecret(passwordFile, "truststore password file").toCharArray();
        try (InputStream in = Files.newInputStream(store)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException | GeneralSecurityException e) {
            throw new BadInputException("cannot load truststore " + store + " (" + e.getMessage()
                    + "); give a PKCS12 file holding the main's certificate and its password file", e);
        }
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
     * @throws BadInputException        the manifest names something that is not a repository path
     * @throws RefusedException         an incremental whose parent is not complete here, or a different
     *                                  backup already complete under the same name
     * @throws OperationFailedException the server refused the token, does not have the file, or every
     *                                  attempt failed (the message names the backup and the last reason)
     */
    public FetchResult fetch(BackupManifest m, Path cloneRoot)
            throws BadInputException, RefusedException, OperationFailedException, InterruptedException {
        long t0 = System.nanoTime();
        BackupPaths.Ref ref;
        try {
            ref = BackupPaths.Ref.of(m);
            if (ref.isManifest()) {
                throw new IllegalArgumentException("file '" + m.file() + "' is a manifest, not a backup file");
            }
            if (m.parent() != null) {
                new BackupPaths.Ref(m.device(), m.chainId(), m.parent());
            }
        } catch (IllegalArgumentException e) {
            throw new BadInputException("backup manifest " + m.device() + "/" + m.chainId() + "/" + m.file()
                    + " cannot be fetched: " + e.getMessage());
        }
        String what = "backup " + ref.device() + "/" + ref.chain() + "/" + ref.file() + " (sequence " + m.sequence() + ")";
        Path target = ref.resolve(cloneRoot.toAbsolutePath().normalize());
        Path partial = target.resolveSibling(target.getFileName() + BackupRepository.PARTIAL);
        Path manifestFile = BackupManifest.manifestPath(target);
        try {
            if (Files.exists(manifestFile)) {
                return alreadyHere(m, target, manifestFile, what, t0);
            }
            if (m.level() == BackupManifest.Level.INC) {
                Path parent = target.resolveSibling(m.parent());
                if (!Files.isRegularFile(parent) || !Files.isRegularFile(BackupManifest.manifestPath(parent))) {
                    throw new RefusedException("refusing to fetch " + what + ": its parent " + m.parent()
                            + " is not complete in " + target.getParent() + "; fetch the chain in order");
                }
            }
            Files.createDirectories(target.getParent());
            if (Files.exists(target)) {
                // A crash between the rename and the manifest: keep the file only if it is right.
                if (Files.size(target) == m.fileSize() && Sha256.of(target).equals(m.sha256())) {
                    AtomicFiles.writeAtomically(manifestFile, m.toJson());
                    LOG.info("{} was already here without its manifest; verified and completed", what);
                    return new FetchResult(m, target, 0, seconds(t0), 0, 0);
                }
                LOG.warn("{}: dropping {} left without a manifest (size or SHA-256 differ)", what, target);
                Files.delete(target);
            }
        } catch (IOException e) {
            throw new OperationFailedException(what + ": cannot prepare " + target.getParent() + " (" + e.getMessage()
                    + "); check the clone's repository folder", e);
        }
        URI uri = ref.uri(settings.baseUri());
        long received = 0;
        String lastProblem = "no attempt made";
        for (int attempt = 1; attempt <= settings.maxAttempts(); attempt++) {
            Attempt a = new Attempt(m, uri, partial, what);
            try {
                a.run();
            } catch (IOException e) {
                lastProblem = "attempt " + attempt + " broke off after " + a.offset + " of " + m.fileSize() + " bytes: " + e;
            }
            received += a.received;
            if (a.problem != null) {
                lastProblem = "attempt " + attempt + ": " + a.problem;
            }
            if (a.verified) {
                try {
                    AtomicFiles.forceAndRename(partial, target);
                    AtomicFiles.writeAtomically(manifestFile, m.toJson());
                } catch (IOException e) {
                    throw new OperationFailedException(what + ": verified but cannot store it as " + target + " ("
                            + e.getMessage() + "); check the clone's disk", e);
                }
                FetchResult r = new FetchResult(m, target, received, seconds(t0), a.resumedFrom, attempt);
                LOG.info("Fetched {}: {} bytes in {} s, {} attempt(s), resumed from {}", what, r.bytes(),
                        String.format("%.3f", r.seconds()), attempt, r.resumedFrom());
                return r;
            }
            if (a.fatal) {
                deleteQuietly(partial);
                throw new OperationFailedException("cannot fetch " + what + " from " + settings.baseUri() + ": "
                        + a.problem);
            }
            if (attempt < settings.maxAttempts()) {
                Duration delay = backoff(attempt);
                LOG.warn("Fetching {} failed ({}); attempt {} of {} in {} ms", what, lastProblem, attempt + 1,
                        settings.maxAttempts(), delay.toMillis());
                sleeper.sleep(delay);
            }
        }
        // Only a partial that failed its check is dropped above; a cut one is kept for a later resume.
        throw new OperationFailedException("cannot fetch " + what + " from " + settings.baseUri() + " after "
                + settings.maxAttempts() + " attempts (" + received + " bytes received); last: " + lastProblem
                + ". Nothing was added to the clone's history; check the main's repository and the network");
    }

    private FetchResult alreadyHere(BackupManifest m, Path target, Path manifestFile, String what, long t0)
            throws IOException, RefusedException {
        BackupManifest here;
        try {
            here = BackupManifest.read(manifestFile);
        } catch (BadInputException e) {
            throw new RefusedException(what + ": " + manifestFile + " exists but is unreadable (" + e.getMessage()
                    + "); move it away by hand if the backup should be fetched again", e);
        }
        if (!here.sha256().equals(m.sha256()) || here.fileSize() != m.fileSize() || !Files.isRegularFile(target)) {
            throw new RefusedException(what + ": a different backup is already complete under that name in "
                    + target.getParent() + " (SHA-256 " + here.sha256() + "); refusing to overwrite history");
        }
        return new FetchResult(here, target, 0, seconds(t0), 0, 0);
    }

    /** Exponential backoff with jitter: a random delay in [d/2, d], d = base * 2^(attempt-1) capped. */
    Duration backoff(int attempt) {
        long base = settings.backoffBase().toMillis();
        long max = settings.backoffMax().toMillis();
        long d = attempt >= 31 ? max : Math.min(max, base << (attempt - 1));
        return Duration.ofMillis(d / 2 + ThreadLocalRandom.current().nextLong(d / 2 + 1));
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.warn("Cannot delete {}: {}", p, e.toString());
        }
    }

    /** One HTTP request: resume or start the partial, stream, hash, check. */
    private final class Attempt {
        final BackupManifest m;
        final URI uri;
        final Path partial;
        final String what;
        volatile long offset;
        volatile long received;
        volatile long resumedFrom;
        boolean verified;
        boolean fatal;
        String problem;

        Attempt(BackupManifest m, URI uri, Path partial, String what) {
            this.m = m;
            this.uri = uri;
            this.partial = partial;
            this.what = what;
        }

        void run() throws IOException, InterruptedException {
            MessageDigest digest = sha256();
            offset = Files.exists(partial) ? Files.size(partial) : 0;
            if (offset > m.fileSize()) {
                LOG.warn("{}: {} is longer than the manifest's {} bytes; starting over", what, partial, m.fileSize());
                Files.delete(partial);
                offset = 0;
            }
            if (offset > 0) {
                hashPrefix(digest);
            }
            resumedFrom = offset;
            if (offset < m.fileSize()) {
                download(digest);
                if (verified || fatal || problem != null) {
                    return;
                }
            }
            check(digest);
        }

        private void hashPrefix(MessageDigest digest) throws IOException {
            byte[] buffer = new byte[BUFFER];
            long left = offset;
            try (InputStream in = Files.newInputStream(partial)) {
                while (left > 0) {
                    int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
                    if (n < 0) {
                        throw new IOException(partial + " shrank while being hashed");
                    }
                    digest.update(buffer, 0, n);
                    left -= n;
                }
            }
        }

        private void download(MessageDigest digest) throws IOException, InterruptedException {
            HttpRequest.Builder rb = HttpRequest.newBuilder(uri).GET().timeout(settings.requestTimeout())
                    .header("Authorization", "Bearer " + settings.token());
            if (offset > 0) {
                rb.header("Range", "bytes=" + offset + "-");
            }
            Sink[] sink = new Sink[1];
            try {
                client.send(rb.build(), info -> {
                    sink[0] = accept(info, digest);
                    return sink[0] == null ? HttpResponse.BodySubscribers.replacing(0L) : sink[0];
                });
            } finally {
                if (sink[0] != null) {
                    sink[0].closeFile();
                }
            }
            if (sink[0] != null && sink[0].tooLong) {
                problem = "the server sent more than the manifest's " + m.fileSize() + " bytes";
                Files.deleteIfExists(partial);
            }
        }

        /**
         * Decides on the status and headers, before any body byte: a sink that appends to (or
         * restarts) the partial file, or null (and {@link #problem} set) when the body is unwanted.
         */
        private Sink accept(HttpResponse.ResponseInfo info, MessageDigest digest) {
            int status = info.statusCode();
            try {
                if (status == 401 || status == 403) {
                    fatal = true;
                    problem = "the server answered " + status + " to our token; make the clone's token match the main's "
                            + "backup-server.token-file";
                    return null;
                }
                if (status == 404) {
                    fatal = true;
                    problem = "the server has no complete file at " + uri.getPath()
                            + " (404); it may have been pruned, or this is not the main that published it";
                    return null;
                }
                if (status == 416) {
                    problem = "the server refused the range from " + offset + " (416): its file is shorter; starting over";
                    Files.deleteIfExists(partial);
                    return null;
                }
                if (status == 206 && offset > 0) {
                    String range = info.headers().firstValue("Content-Range").orElse("");
                    Matcher cr = CONTENT_RANGE.matcher(range);
                    if (!cr.matches() || Long.parseLong(cr.group(1)) != offset
                            || Long.parseLong(cr.group(3)) != m.fileSize()) {
                        problem = "unexpected Content-Range '" + range + "' for a resume from " + offset + " of "
                                + m.fileSize() + " bytes";
                        Files.deleteIfExists(partial);
                        return null;
                    }
                    return new Sink(this, digest, true);
                }
                if (status == 200) {
                    if (offset > 0) {
                        // The server ignored the Range: start over from its first byte.
                        digest.reset();
                        offset = 0;
                        resumedFrom = 0;
                    }
                    OptionalLong len = info.headers().firstValueAsLong("Content-Length");
                    if (len.isPresent() && len.getAsLong() != m.fileSize()) {
                        problem = "the server's file has " + len.getAsLong() + " bytes, the manifest says "
                                + m.fileSize();
                        Files.deleteIfExists(partial);
                        return null;
                    }
                    return new Sink(this, digest, false);
                }
                problem = "HTTP " + status + " from " + uri;
                return null;
            } catch (IOException e) {
                problem = "cannot prepare " + partial + ": " + e;
                return null;
            }
        }

        private void check(MessageDigest digest) throws IOException {
            if (offset != m.fileSize()) {
                problem = "the transfer ended at " + offset + " of the manifest's " + m.fileSize() + " bytes (truncated)";
                Files.deleteIfExists(partial);
                return;
            }
            String sha = HexFormat.of().formatHex(digest.digest());
            if (!sha.equals(m.sha256())) {
                problem = "SHA-256 " + sha + " does not match the manifest's " + m.sha256() + " (corrupted in transit "
                        + "or on the main)";
                Files.deleteIfExists(partial);
                return;
            }
            verified = true;
        }
    }

    /**
     * Writes the body to the partial file and the digest as the client hands it over, on the
     * client's thread (no extra copy, no hand-off to a reader thread). A watchdog aborts it when
     * no data came for {@code stallTimeout}: the JDK client has no read timeout on a body.
     */
    private final class Sink implements HttpResponse.BodySubscriber<Long> {
        private final Attempt attempt;
        private final MessageDigest digest;
        private final boolean append;
        private final CompletableFuture<Long> result = new CompletableFuture<>();
        private final AtomicLong lastProgress = new AtomicLong(System.nanoTime());
        private volatile Flow.Subscription subscription;
        private volatile FileChannel out;
        private volatile ScheduledFuture<?> dog;
        volatile boolean tooLong;

        Sink(Attempt attempt, MessageDigest digest, boolean append) {
            this.attempt = attempt;
            this.digest = digest;
            this.append = append;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            try {
                out = append ? FileChannel.open(attempt.partial, StandardOpenOption.WRITE, StandardOpenOption.APPEND)
                        : FileChannel.open(attempt.partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                                StandardOpenOption.TRUNCATE_EXISTING);
            } catch (IOException e) {
                abort(e);
                return;
            }
            long stallNanos = settings.stallTimeout().toNanos();
            long period = Math.max(50, settings.stallTimeout().toMillis() / 4);
            dog = watchdog.scheduleAtFixedRate(() -> {
                if (System.nanoTime() - lastProgress.get() > stallNanos) {
                    LOG.warn("{}: no data for {} ms; cutting the connection", attempt.what,
                            settings.stallTimeout().toMillis());
                    abort(new IOException("no data for " + settings.stallTimeout().toMillis() + " ms"));
                }
            }, period, period, TimeUnit.MILLISECONDS);
            s.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            try {
                for (ByteBuffer b : items) {
                    int n = b.remaining();
                    if (attempt.offset + n > attempt.m.fileSize()) {
                        tooLong = true;
                        abort(new IOException("more data than the manifest's " + attempt.m.fileSize() + " bytes"));
                        return;
                    }
                    digest.update(b.duplicate());
                    while (b.hasRemaining()) {
                        out.write(b);
                    }
                    attempt.offset += n;
                    attempt.received += n;
                }
                lastProgress.set(System.nanoTime());
                subscription.request(1);
            } catch (IOException | RuntimeException e) {
                abort(e);
            }
        }

        @Override
        public void onError(Throwable t) {
            stopDog();
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            stopDog();
            result.complete(attempt.offset);
        }

        @Override
        public CompletionStage<Long> getBody() {
            return result;
        }

        private void abort(Throwable t) {
            stopDog();
            Flow.Subscription s = subscription;
            if (s != null) {
                s.cancel();
            }
            result.completeExceptionally(t);
        }

        private void stopDog() {
            ScheduledFuture<?> d = dog;
            if (d != null) {
                d.cancel(false);
            }
        }

        void closeFile() {
            stopDog();
            FileChannel ch = out;
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException e) {
                    LOG.warn("closing {}: {}", attempt.partial, e.toString());
                }
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }

    /** Stops the stall watchdog. */
    @Override
    public void close() {
        watchdog.shutdownNow();
    }
}

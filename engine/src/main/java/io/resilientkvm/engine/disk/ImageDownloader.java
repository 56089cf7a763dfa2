package io.resilientkvm.engine.disk;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.DigestInputStream;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.GZIPInputStream;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Downloads a disk image ({@code virtual-hard-drive-url}) from {@code http}, {@code https} or
 * {@code file} URLs, within the node's {@link DownloadLimits}.
 *
 * <p>Images are large, so the download streams through a fixed-size buffer (memory does not grow with
 * the image) into {@code <target>.partial}, computes the MD5 and SHA-256 on the way, optionally gunzips
 * on the way, then fsyncs and atomically renames to the target. A failed or mismatching download leaves
 * neither the target nor the partial file behind, so a half-written image can never be mistaken for a disk.
 *
 * <p>The checksums are those of the <em>downloaded</em> bytes, i.e. of the compressed file when
 * {@code gzipped} is set: that is the checksum published next to a {@code .gz} file. A wrong checksum is
 * retried, as the seed system does, up to {@value #CHECKSUM_TRIES} tries in all.
 *
 * <p>Bounds: {@link DownloadLimits#maxBytes} on the bytes received and on the bytes written (a gzip bomb
 * stops there), {@link DownloadLimits#deadline} on the whole download, retries included, besides the
 * connect and per-read timeouts. {@code file:} URLs only inside {@link DownloadLimits#fileRoots}, links
 * resolved, regular files only (a FIFO or device is never opened).
 *
 * <p>HTTPS certificates and host names are checked unless {@code checkCertificate} is false; only then
 * is a trust-all context used, for that one connection. Redirects are followed (at most
 * {@value #MAX_REDIRECTS}) to http and https only, and never from https to http.
 */
public final class ImageDownloader {
    static final int BUFFER_SIZE = 64 * 1024;
    static final int MAX_REDIRECTS = 10;
    /** The seed system's: a wrong checksum is downloaded again, four tries in all. */
    static final int CHECKSUM_TRIES = 4;

    private static final Logger LOG = LoggerFactory.getLogger(ImageDownloader.class);

    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final DownloadLimits limits;

    /**
     * What to download.
     *
     * @param url              the image URL: http, https or file
     * @param md5              the expected MD5 (hex, any case) of the downloaded bytes, or {@code null}
     * @param sha256           the expected SHA-256 (hex, any case) of the downloaded bytes, or {@code null}
     * @param gzipped          whether the downloaded bytes are gzip-compressed and must be decompressed
     * @param checkCertificate whether to verify the HTTPS certificate and host name (do, unless testing)
     */
    public record Source(URI url, String md5, String sha256, boolean gzipped, boolean checkCertificate) {
        public Source {
            Objects.requireNonNull(url, "url");
        }

        public Source(URI url, String md5, boolean gzipped, boolean checkCertificate) {
            this(url, md5, null, gzipped, checkCertificate);
        }

        public static Source of(URI url) {
            return new Source(url, null, null, false, true);
        }
    }

    public ImageDownloader() {
        this(DownloadLimits.DEFAULT);
    }

    public ImageDownloader(DownloadLimits limits) {
        this(Duration.ofSeconds(30), Duration.ofMinutes(5), limits);
    }

    public ImageDownloader(Duration connectTimeout, Duration readTimeout) {
        this(connectTimeout, readTimeout, DownloadLimits.DEFAULT);
    }

    /**
     * @param connectTimeout how long to wait for the connection
     * @param readTimeout    how long a single read may wait for data
     * @param limits         size cap, overall deadline and {@code file:} roots
     */
    public ImageDownloader(Duration connectTimeout, Duration readTimeout, DownloadLimits limits) {
        this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
        this.readTimeout = Objects.requireNonNull(readTimeout, "readTimeout");
        this.limits = Objects.requireNonNull(limits, "limits");
    }

    /**
     * Downloads {@code source} to {@code target}, which must not exist.
     *
     * @return the MD5 (lower-case hex) of the downloaded bytes
     */
    public String download(Source source, Path target) throws BadInputException, RefusedException,
            OperationFailedException {
        String where = redact(source.url());
        String scheme = source.url().getScheme() == null ? "" : source.url().getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") && !scheme.equals("file")) {
            throw new BadInputException("virtual-hard-drive-url " + where + " has an unsupported scheme '" + scheme
                    + "'; use an http, https or file URL");
        }
        if (source.md5() != null && !source.md5().matches("(?i)[0-9a-f]{32}")) {
            throw new BadInputException("the MD5 '" + source.md5() + "' given for " + where
                    + " is not 32 hexadecimal digits; fix virtual-hard-drive-md5sum");
        }
        if (source.sha256() != null && !source.sha256().matches("(?i)[0-9a-f]{64}")) {
            throw new BadInputException("the SHA-256 '" + source.sha256() + "' given for " + where
                    + " is not 64 hexadecimal digits; fix virtual-hard-drive-sha256sum");
        }
        if (Files.exists(target)) {
            throw new RefusedException("refusing to download " + where + " to " + target
                    + ": the file already exists; move it away first if it really is not needed");
        }
        Path partial = target.resolveSibling(target.getFileName() + ".partial");
        LOG.info("downloading {} to {}", where, target);
        Transfer transfer = new Transfer(where, System.nanoTime() + limits.deadline().toNanos());
        boolean done = false;
        try {
            String mismatch = null;
            for (int attempt = 1; attempt <= CHECKSUM_TRIES; attempt++) {
                Files.deleteIfExists(partial);
                String[] actual = fetchWithinDeadline(source, transfer, partial);
                mismatch = mismatch(source, actual);
                if (mismatch == null) {
                    AtomicFiles.forceAndRename(partial, target);
                    done = true;
                    LOG.info("downloaded {} to {} (md5 {}, sha256 {})", where, target, actual[0], actual[1]);
                    return actual[0];
                }
                LOG.warn("{} downloaded from {} (try {} of {})", mismatch, where, attempt, CHECKSUM_TRIES);
            }
            throw new OperationFailedException("Checksum is incorrect after " + CHECKSUM_TRIES + " tries, will not retry: "
                    + mismatch + " for " + where + "; the download was discarded. Check virtual-hard-drive-md5sum"
                    + " (or -sha256sum) and the URL (a proxy or a changed file on the server?), then retry");
        } catch (Stop e) {
            if (e.refused) {
                throw new RefusedException(e.getMessage(), e);
            }
            throw new OperationFailedException(e.getMessage(), e);
        } catch (IOException e) {
            if (transfer.expired) {
                throw new OperationFailedException(transfer.deadlineMessage(), e);
            }
            throw new OperationFailedException("downloading " + where + " to " + target + " failed: " + e
                    + "; check the URL, the network and the free space in " + target.toAbsolutePath().getParent()
                    + ", then retry", e);
        } finally {
            if (!done) {
                try {
                    Files.deleteIfExists(partial);
                } catch (IOException e) {
                    LOG.warn("cannot delete {} after a failed download; delete it by hand", partial, e);
                }
            }
        }
    }

    private static String mismatch(Source source, String[] actual) {
        if (source.md5() != null && !source.md5().equalsIgnoreCase(actual[0])) {
            return "MD5 mismatch: expected " + source.md5() + ", got " + actual[0];
        }
        if (source.sha256() != null && !source.sha256().equalsIgnoreCase(actual[1])) {
            return "SHA-256 mismatch: expected " + source.sha256() + ", got " + actual[1];
        }
        return null;
    }

    /** One download's URL (for messages) and deadline. */
    private final class Transfer {
        final String where;
        final long deadlineNanos;
        volatile boolean expired;

        Transfer(String where, long deadlineNanos) {
            this.where = where;
            this.deadlineNanos = deadlineNanos;
        }

        void checkDeadline() throws Stop {
            if (expired || System.nanoTime() - deadlineNanos >= 0) {
                expired = true;
                throw new Stop(deadlineMessage(), false);
            }
        }

        String deadlineMessage() {
            return "downloading " + where + " did not finish within " + limits.deadline().toSeconds()
                    + " s (downloads.deadline-seconds in the node configuration); the partial file was removed."
                    + " Check the server's speed, or raise the deadline";
        }
    }

    /** A download stopped on purpose (cap, deadline, refused reference): its message is the operator's. */
    private static final class Stop extends IOException {
        private static final long serialVersionUID = 1L;
        final boolean refused;

        Stop(String message, boolean refused) {
            super(message);
            this.refused = refused;
        }
    }

    /**
     * {@link #fetch} on a worker thread, waited for until the deadline. A read blocked on a
     * trickling server cannot be cut from here (HttpURLConnection's disconnect waits for the read's
     * lock), so at the deadline the worker is interrupted, which closes its file channel, and left
     * to end at its next read timeout, writing nothing more.
     */
    private String[] fetchWithinDeadline(Source source, Transfer transfer, Path partial) throws IOException,
            BadInputException {
        ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "download " + transfer.where);
            t.setDaemon(true);
            return t;
        });
        try {
            Future<String[]> result = worker.submit(() -> fetch(source, transfer, partial));
            try {
                return result.get(Math.max(0, transfer.deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                transfer.expired = true;
                result.cancel(true);
                throw new Stop(transfer.deadlineMessage(), false);
            } catch (InterruptedException e) {
                result.cancel(true);
                Thread.currentThread().interrupt();
                throw new Stop("downloading " + transfer.where + " was interrupted; the partial file was removed", false);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                if (e.getCause() instanceof BadInputException bad) {
                    throw bad;
                }
                throw new IllegalStateException("downloading " + transfer.where + " failed: " + e.getCause(), e.getCause());
            }
        } finally {
            worker.shutdownNow();
        }
    }

    /** Returns the MD5 and SHA-256 (lower-case hex) of the downloaded bytes. */
    private String[] fetch(Source source, Transfer transfer, Path partial) throws IOException, BadInputException {
        MessageDigest md5 = digest("MD5");
        MessageDigest sha256 = digest("SHA-256");
        String where = transfer.where;
        try (InputStream raw = open(source, transfer);
                InputStream received = new DigestInputStream(new DigestInputStream(raw, md5), sha256);
                FileChannel channel = openPartial(partial, transfer)) {
            OutputStream out = Channels.newOutputStream(channel);
            byte[] buffer = new byte[BUFFER_SIZE];
            Counter receivedBytes = new Counter("received from " + where);
            if (source.gzipped()) {
                InputStream counted = receivedBytes.wrap(received, transfer);
                GZIPInputStream gunzip = new GZIPInputStream(counted, BUFFER_SIZE);
                copy(gunzip, out, buffer, new Counter("gunzipped from " + where), transfer);
                // Anything after the gzip data still counts for the checksums of the downloaded bytes.
                while (counted.read(buffer) != -1) {
                    transfer.checkDeadline();
                }
            } else {
                copy(received, out, buffer, receivedBytes, transfer);
            }
        }
        return new String[] {HexFormat.of().formatHex(md5.digest()), HexFormat.of().formatHex(sha256.digest())};
    }

    /** The partial file, unless the deadline passed while connecting (the caller already removed it). */
    private static FileChannel openPartial(Path partial, Transfer transfer) throws IOException {
        transfer.checkDeadline();
        return FileChannel.open(partial, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    /** Counts bytes against {@link DownloadLimits#maxBytes}. */
    private final class Counter {
        private final String what;
        private long bytes;

        Counter(String what) {
            this.what = what;
        }

        void add(int n) throws Stop {
            bytes += n;
            if (bytes > limits.maxBytes()) {
                throw new Stop("refusing " + what + ": more than " + limits.maxBytes() + " bytes (downloads.max-bytes"
                        + " in the node configuration); the partial file was removed. Check the image (a gzip bomb?),"
                        + " or raise the cap", true);
            }
        }

        InputStream wrap(InputStream in, Transfer transfer) {
            return new java.io.FilterInputStream(in) {
                @Override
                public int read() throws IOException {
                    byte[] one = new byte[1];
                    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    transfer.checkDeadline();
                    int n = super.read(b, off, len);
                    if (n > 0) {
                        add(n);
                    }
                    return n;
                }
            };
        }
    }

    private InputStream open(Source source, Transfer transfer) throws IOException, BadInputException {
        URI uri = source.url();
        String where = transfer.where;
        if ("file".equalsIgnoreCase(uri.getScheme())) {
            return openFile(uri, where);
        }
        for (int redirects = 0; ; redirects++) {
            transfer.checkDeadline();
            HttpURLConnection connection = (HttpURLConnection) toUrl(uri, where).openConnection();
            connection.setInstanceFollowRedirects(false);
            connection.setConnectTimeout(Math.toIntExact(connectTimeout.toMillis()));
            connection.setReadTimeout(Math.toIntExact(readTimeout.toMillis()));
            if (connection instanceof HttpsURLConnection https && !source.checkCertificate()) {
                https.setSSLSocketFactory(trustAll().getSocketFactory());
                https.setHostnameVerifier((host, session) -> true);
            }
            int status = connection.getResponseCode();
            if (status >= 300 && status < 400 && status != 304) {
                String location = connection.getHeaderField("Location");
                connection.disconnect();
                if (location == null) {
                    throw new Stop("downloading " + where + ": HTTP " + status
                            + " redirect without a Location header; check the URL", false);
                }
                if (redirects >= MAX_REDIRECTS) {
                    throw new Stop("downloading " + where + ": more than " + MAX_REDIRECTS
                            + " redirects; check the URL", false);
                }
                URI next;
                try {
                    next = uri.resolve(location);
                } catch (IllegalArgumentException e) {
                    throw new Stop("downloading " + where + ": the redirect to '" + location
                            + "' is not a valid URL; check the URL", false);
                }
                String nextScheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
                // Only http(s) is followed: a file: (or ftp:, jar:) Location would read what the server chose.
                if (!nextScheme.equals("http") && !nextScheme.equals("https")) {
                    throw new Stop("downloading " + where + ": refusing the redirect to " + redact(next)
                            + " (a '" + nextScheme + ":' URL): only http and https redirects are followed, nothing was"
                            + " opened; use a URL that stays on http(s)", true);
                }
                if ("https".equalsIgnoreCase(uri.getScheme()) && !nextScheme.equals("https")) {
                    throw new Stop("downloading " + where + ": refusing the redirect from https to "
                            + redact(next) + "; use a URL that stays on https", true);
                }
                uri = next;
                continue;
            }
            if (status != HttpURLConnection.HTTP_OK) {
                String reason = connection.getResponseMessage();
                connection.disconnect();
                throw new Stop("downloading " + where + " failed: HTTP " + status
                        + (reason == null ? "" : " " + reason) + (uri.equals(source.url()) ? "" : " at " + redact(uri))
                        + "; check virtual-hard-drive-url", false);
            }
            long length = connection.getContentLengthLong();
            if (length > limits.maxBytes()) {
                connection.disconnect();
                throw new Stop("refusing " + where + ": the server announces " + length + " bytes, more than "
                        + limits.maxBytes() + " (downloads.max-bytes in the node configuration); nothing was written."
                        + " Raise the cap if the image really is that large", true);
            }
            return connection.getInputStream();
        }
    }

    /** A {@code file:} URL's file, only inside {@link DownloadLimits#fileRoots} and only when regular. */
    private InputStream openFile(URI uri, String where) throws IOException, BadInputException {
        Path file;
        try {
            file = Path.of(uri);
        } catch (IllegalArgumentException e) {
            throw new BadInputException("virtual-hard-drive-url " + where + " is not a valid file URL ("
                    + e.getMessage() + "); use file:///absolute/path", e);
        }
        if (limits.fileRoots().isEmpty()) {
            throw new Stop("refusing virtual-hard-drive-url " + where + ": file: URLs are allowed only from the"
                    + " directories in downloads.file-roots of the node configuration, and it lists none; add the"
                    + " directory holding the image there, or serve the image over http(s)", true);
        }
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new Stop("virtual-hard-drive-url " + where + ": no such file " + file + "; check the path", false);
        }
        Path real = file.toRealPath();
        boolean inside = false;
        for (Path root : limits.fileRoots()) {
            if (Files.isDirectory(root) && real.startsWith(root.toRealPath())) {
                inside = true;
            }
        }
        if (!inside) {
            throw new Stop("refusing virtual-hard-drive-url " + where + ": " + file
                    + (real.equals(file) ? "" : " (resolving to " + real + ")") + " is outside downloads.file-roots "
                    + limits.fileRoots() + " of the node configuration; nothing was opened", true);
        }
        BasicFileAttributes attrs = Files.readAttributes(real, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!attrs.isRegularFile()) {
            throw new Stop("refusing virtual-hard-drive-url " + where + ": " + real + " is not a regular file ("
                    + (attrs.isDirectory() ? "a folder" : "a FIFO, socket or device") + "); nothing was opened", true);
        }
        return Files.newInputStream(real, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
    }

    private static URL toUrl(URI uri, String where) throws BadInputException {
        try {
            return uri.toURL();
        } catch (IOException | IllegalArgumentException e) {
            throw new BadInputException("virtual-hard-drive-url " + where + " is not a valid URL: " + e.getMessage(), e);
        }
    }

    private static void copy(InputStream in, OutputStream out, byte[] buffer, Counter counter, Transfer transfer)
            throws IOException {
        for (int n; (n = in.read(buffer)) != -1; ) {
            transfer.checkDeadline();
            counter.add(n);
            out.write(buffer, 0, n);
        }
    }

    private static MessageDigest digest(String algorithm) {
        try {
            return MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has " + algorithm, e);
        }
    }

    private static SSLContext trustAll() throws IOException {
        X509TrustManager trustAll = new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
                // trusted: the operator disabled certificate checks
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
                // trusted: the operator disabled certificate checks
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {trustAll}, new SecureRandom());
            return context;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot set up TLS without certificate checks: " + e.getMessage(), e);
        }
    }

    /** The URL without its user-info (which may hold a password), for messages and logs. */
    static String redact(URI uri) {
        if (uri.getRawUserInfo() == null) {
            return uri.toString();
        }
        try {
            return new URI(uri.getScheme(), "***", uri.getHost(), uri.getPort(), uri.getPath(), uri.getQuery(),
                    uri.getFragment()).toString();
        } catch (URISyntaxException e) {
            return uri.getScheme() + "://***@" + uri.getHost();
        }
    }
}

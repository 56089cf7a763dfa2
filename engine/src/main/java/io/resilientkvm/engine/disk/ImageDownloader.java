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
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
import java.util.zip.GZIPInputStream;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Downloads a disk image ({@code virtual-hard-drive-url}) from {@code http}, {@code https} or
 * {@code file} URLs.
 *
 * <p>Images are large, so the download streams through a fixed-size buffer (memory does not grow with
 * the image) into {@code <target>.partial}, computes the MD5 on the way, optionally gunzips on the way,
 * then fsyncs and atomically renames to the target. A failed or mismatching download leaves neither the
 * target nor the partial file behind, so a half-written image can never be mistaken for a disk.
 *
 * <p>The MD5 is that of the <em>downloaded</em> bytes, i.e. of the compressed file when
 * {@code gzipped} is set: that is the checksum published next to a {@code .gz} file, and it can be
 * verified before trusting the decompressor with the data.
 *
 * <p>HTTPS certificates and host names are checked unless {@code checkCertificate} is false; only then
 * is a trust-all context used, for that one connection. Redirects are followed (at most
 * {@value #MAX_REDIRECTS}), but never from https to http.
 */
public final class ImageDownloader {
    static final int BUFFER_SIZE = 64 * 1024;
    static final int MAX_REDIRECTS = 10;

    private static final Logger LOG = LoggerFactory.getLogger(ImageDownloader.class);

    private final Duration connectTimeout;
    private final Duration readTimeout;

    /**
     * What to download.
     *
     * @param url              the image URL: http, https or file
     * @param md5              the expected MD5 (hex, any case) of the downloaded bytes, or {@code null}
     * @param gzipped          whether the downloaded bytes are gzip-compressed and must be decompressed
     * @param checkCertificate whether to verify the HTTPS certificate and host name (do, unless testing)
     */
    public record Source(URI url, String md5, boolean gzipped, boolean checkCertificate) {
        public Source {
            Objects.requireNonNull(url, "url");
        }

        public static Source of(URI url) {
            return new Source(url, null, false, true);
        }
    }

    public ImageDownloader() {
        this(Duration.ofSeconds(30), Duration.ofMinutes(5));
    }

    /**
     * @param connectTimeout how long to wait for the connection
     * @param readTimeout    how long a single read may wait for data
     */
    public ImageDownloader(Duration connectTimeout, Duration readTimeout) {
        this.connectTimeout = Objects.requireNonNull(connectTimeout, "connectTimeout");
        this.readTimeout = Objects.requireNonNull(readTimeout, "readTimeout");
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
        if (Files.exists(target)) {
            throw new RefusedException("refusing to download " + where + " to " + target
                    + ": the file already exists; move it away first if it really is not needed");
        }
        Path partial = target.resolveSibling(target.getFileName() + ".partial");
        LOG.info("downloading {} to {}", where, target);
        boolean done = false;
        try {
            String actual = fetch(source, where, partial);
            if (source.md5() != null && !source.md5().equalsIgnoreCase(actual)) {
                throw new OperationFailedException("MD5 mismatch for " + where + ": expected " + source.md5()
                        + ", got " + actual + "; the download was discarded. Check virtual-hard-drive-md5sum and"
                        + " the URL (a proxy or a changed file on the server?), then retry");
            }
            AtomicFiles.forceAndRename(partial, target);
            done = true;
            LOG.info("downloaded {} to {} (md5 {})", where, target, actual);
            return actual;
        } catch (IOException e) {
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

    private String fetch(Source source, String where, Path partial) throws IOException, OperationFailedException,
            BadInputException {
        MessageDigest md5 = md5();
        try (InputStream raw = open(source, where);
                DigestInputStream digesting = new DigestInputStream(raw, md5);
                FileChannel channel = FileChannel.open(partial, StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            OutputStream out = Channels.newOutputStream(channel);
            byte[] buffer = new byte[BUFFER_SIZE];
            if (source.gzipped()) {
                GZIPInputStream gunzip = new GZIPInputStream(digesting, BUFFER_SIZE);
                copy(gunzip, out, buffer);
                // Anything after the gzip data still counts for the MD5 of the downloaded bytes.
                drain(digesting, buffer);
            } else {
                copy(digesting, out, buffer);
            }
        }
        return HexFormat.of().formatHex(md5.digest());
    }

    private InputStream open(Source source, String where) throws IOException, OperationFailedException,
            BadInputException {
        URI uri = source.url();
        if ("file".equalsIgnoreCase(uri.getScheme())) {
            Path file;
            try {
                file = Path.of(uri);
            } catch (IllegalArgumentException e) {
                throw new BadInputException("virtual-hard-drive-url " + where + " is not a valid file URL ("
                        + e.getMessage() + "); use file:///absolute/path", e);
            }
            if (!Files.isRegularFile(file)) {
                throw new OperationFailedException("virtual-hard-drive-url " + where + ": no such file " + file
                        + "; check the path");
            }
            return Files.newInputStream(file);
        }
        for (int redirects = 0; ; redirects++) {
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
                    throw new OperationFailedException("downloading " + where + ": HTTP " + status
                            + " redirect without a Location header; check the URL");
                }
                if (redirects >= MAX_REDIRECTS) {
                    throw new OperationFailedException("downloading " + where + ": more than " + MAX_REDIRECTS
                            + " redirects; check the URL");
                }
                URI next = uri.resolve(location);
                if ("https".equalsIgnoreCase(uri.getScheme()) && !"https".equalsIgnoreCase(next.getScheme())) {
                    throw new OperationFailedException("downloading " + where + ": refusing the redirect from https to "
                            + redact(next) + "; use a URL that stays on https");
                }
                uri = next;
                continue;
            }
            if (status != HttpURLConnection.HTTP_OK) {
                String reason = connection.getResponseMessage();
                connection.disconnect();
                throw new OperationFailedException("downloading " + where + " failed: HTTP " + status
                        + (reason == null ? "" : " " + reason) + (uri.equals(source.url()) ? "" : " at " + redact(uri))
                        + "; check virtual-hard-drive-url");
            }
            return connection.getInputStream();
        }
    }

    private static URL toUrl(URI uri, String where) throws BadInputException {
        try {
            return uri.toURL();
        } catch (IOException | IllegalArgumentException e) {
            throw new BadInputException("virtual-hard-drive-url " + where + " is not a valid URL: " + e.getMessage(), e);
        }
    }

    private static void copy(InputStream in, OutputStream out, byte[] buffer) throws IOException {
        for (int n; (n = in.read(buffer)) != -1; ) {
            out.write(buffer, 0, n);
        }
    }

    private static void drain(InputStream in, byte[] buffer) throws IOException {
        while (in.read(buffer) != -1) {
            // only digested
        }
    }

    private static MessageDigest md5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has MD5", e);
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

package io.resilientkvm.engine.disk;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
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

    private final DownloadLimits limits;
    private final HttpImageSource http;
    private final FileImageSource file;
    private final BoundedCopy copy;

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
        this.limits = Objects.requireNonNull(limits, "limits");
        this.http = new HttpImageSource(Objects.requireNonNull(connectTimeout, "connectTimeout"),
                Objects.requireNonNull(readTimeout, "readTimeout"), limits);
        this.file = new FileImageSource(limits);
        this.copy = new BoundedCopy(limits);
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
        DownloadTransfer transfer = new DownloadTransfer(where, limits.deadline());
        boolean done = false;
        try {
            String mismatch = null;
            for (int attempt = 1; attempt <= CHECKSUM_TRIES; attempt++) {
                Files.deleteIfExists(partial);
                String[] actual = transfer.withinDeadline(() -> copy.fetch(() -> open(source, transfer), source.gzipped(),
                        transfer, partial));
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
        } catch (DownloadStop e) {
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

    private InputStream open(Source source, DownloadTransfer transfer) throws IOException, BadInputException {
        if ("file".equalsIgnoreCase(source.url().getScheme())) {
            return file.open(source.url(), transfer.where);
        }
        return http.open(source, transfer);
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

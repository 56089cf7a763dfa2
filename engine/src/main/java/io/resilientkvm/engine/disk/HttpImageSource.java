package io.resilientkvm.engine.disk;

import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URL;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Locale;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * One HTTP(S) try of a download: the connection with its timeouts, the certificate check (or,
 * only when asked, a trust-all context for that one connection), redirects to http(s) only and
 * never from https to http, and the announced length against the cap.
 */
final class HttpImageSource {
    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final DownloadLimits limits;

    HttpImageSource(Duration connectTimeout, Duration readTimeout, DownloadLimits limits) {
        this.connectTimeout = connectTimeout;
        this.readTimeout = readTimeout;
        this.limits = limits;
    }

    /** The response body of {@code source}'s URL after its redirects, once it answered 200 within the cap. */
    InputStream open(ImageDownloader.Source source, DownloadTransfer transfer) throws IOException, BadInputException {
        URI uri = source.url();
        String where = transfer.where;
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
                    throw new DownloadStop("downloading " + where + ": HTTP " + status
                            + " redirect without a Location header; check the URL", false);
                }
                if (redirects >= ImageDownloader.MAX_REDIRECTS) {
                    throw new DownloadStop("downloading " + where + ": more than " + ImageDownloader.MAX_REDIRECTS
                            + " redirects; check the URL", false);
                }
                URI next;
                try {
                    next = uri.resolve(location);
                } catch (IllegalArgumentException e) {
                    throw new DownloadStop("downloading " + where + ": the redirect to '" + location
                            + "' is not a valid URL; check the URL", false);
                }
                String nextScheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
                // Only http(s) is followed: a file: (or ftp:, jar:) Location would read what the server chose.
                if (!nextScheme.equals("http") && !nextScheme.equals("https")) {
                    throw new DownloadStop("downloading " + where + ": refusing the redirect to " + ImageDownloader.redact(next)
                            + " (a '" + nextScheme + ":' URL): only http and https redirects are followed, nothing was"
                            + " opened; use a URL that stays on http(s)", true);
                }
                if ("https".equalsIgnoreCase(uri.getScheme()) && !nextScheme.equals("https")) {
                    throw new DownloadStop("downloading " + where + ": refusing the redirect from https to "
                            + ImageDownloader.redact(next) + "; use a URL that stays on https", true);
                }
                uri = next;
                continue;
            }
            if (status != HttpURLConnection.HTTP_OK) {
                String reason = connection.getResponseMessage();
                connection.disconnect();
                throw new DownloadStop("downloading " + where + " failed: HTTP " + status
                        + (reason == null ? "" : " " + reason) + (uri.equals(source.url()) ? "" : " at " + ImageDownloader.redact(uri))
                        + "; check virtual-hard-drive-url", false);
            }
            long length = connection.getContentLengthLong();
            if (length > limits.maxBytes()) {
                connection.disconnect();
                throw new DownloadStop("refusing " + where + ": the server announces " + length + " bytes, more than "
                        + limits.maxBytes() + " (downloads.max-bytes in the node configuration); nothing was written."
                        + " Raise the cap if the image really is that large", true);
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
}

package io.resilientkvm.importer.transfer;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How a clone reaches the main's backup server and how hard it tries.
 *
 * @param baseUri        the server's base, e.g. {@code https://10.0.0.1:8443} (from ZooKeeper)
 * @param token          the bearer token (same as the main's {@code backup-server.token-file})
 * @param tokenFile      where the token was read, named when the server refuses it; empty: not from a file
 * @param truststore     PKCS12 truststore for a main with a self-signed certificate; empty: the JVM's CAs
 * @param truststorePasswordFile file holding the truststore's password (required with a truststore)
 * @param connectTimeout TCP (and TLS) connect timeout
 * @param requestTimeout time until the response headers arrive
 * @param stallTimeout   a body read that makes no progress for this long is cut and retried
 * @param maxAttempts    attempts per backup (1 = no retry)
 * @param backoffBase    delay after the first failed attempt; doubles each time, with jitter
 * @param backoffMax     upper bound of the delay
 */
public record TransferSettings(URI baseUri, String token, Optional<Path> tokenFile, Optional<Path> truststore,
        Optional<Path> truststorePasswordFile, Duration connectTimeout, Duration requestTimeout, Duration stallTimeout,
        int maxAttempts, Duration backoffBase, Duration backoffMax) {
    public static final int DEFAULT_ATTEMPTS = 5;

    public TransferSettings {
        Objects.requireNonNull(baseUri, "baseUri");
        Objects.requireNonNull(token, "token");
        Objects.requireNonNull(truststore, "truststore");
        Objects.requireNonNull(truststorePasswordFile, "truststorePasswordFile");
        if (!"http".equals(baseUri.getScheme()) && !"https".equals(baseUri.getScheme())) {
            throw new IllegalArgumentException("baseUri must be http:// or https://, not " + baseUri);
        }
        if (baseUri.getRawQuery() != null || baseUri.getRawFragment() != null) {
            throw new IllegalArgumentException("baseUri must have no query or fragment: " + baseUri);
        }
        if (token.isBlank() || token.chars().anyMatch(c -> c < 0x21 || c > 0x7e)) {
            throw new IllegalArgumentException("token must be non-empty printable ASCII without spaces");
        }
        Objects.requireNonNull(tokenFile, "tokenFile");
        positive("connectTimeout", connectTimeout);
        positive("requestTimeout", requestTimeout);
        positive("stallTimeout", stallTimeout);
        positive("backoffMax", backoffMax);
        Objects.requireNonNull(backoffBase, "backoffBase");
        if (backoffBase.isNegative()) {
            throw new IllegalArgumentException("backoffBase must not be negative");
        }
        if (maxAttempts < 1 || maxAttempts > 100) {
            throw new IllegalArgumentException("maxAttempts must be 1..100, not " + maxAttempts);
        }
        if (backoffBase.compareTo(backoffMax) > 0) {
            throw new IllegalStateException("backoffBase " + backoffBase + " exceeds backoffMax " + backoffMax);
        }
        if (truststore.isPresent() != truststorePasswordFile.isPresent()) {
            throw new IllegalStateException("truststore and truststorePasswordFile go together");
        }
    }

    private static void positive(String name, Duration d) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be positive, not " + d);
        }
    }

    /** Defaults: 10 s connect, 30 s to headers, 60 s stall, 5 attempts, backoff 0.5 s doubling to 30 s. */
    public static TransferSettings of(URI baseUri, String token) {
        return new TransferSettings(baseUri, token, Optional.empty(), Optional.empty(), Optional.empty(),
                Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(60), DEFAULT_ATTEMPTS, Duration.ofMillis(500),
                Duration.ofSeconds(30));
    }

    /** The same with another retry policy. */
    public TransferSettings withRetries(int attempts, Duration base, Duration max) {
        return new TransferSettings(baseUri, token, tokenFile, truststore, truststorePasswordFile, connectTimeout,
                requestTimeout, stallTimeout, attempts, base, max);
    }

    /** The same trusting the certificates in a PKCS12 truststore (a self-signed main). */
    public TransferSettings withTruststore(Path store, Path passwordFile) {
        return new TransferSettings(baseUri, token, tokenFile, Optional.of(store), Optional.of(passwordFile),
                connectTimeout, requestTimeout, stallTimeout, maxAttempts, backoffBase, backoffMax);
    }

    /** The same naming the file the token was read from (in the message when the server refuses it). */
    public TransferSettings withTokenFile(Path file) {
        return new TransferSettings(baseUri, token, Optional.of(file), truststore, truststorePasswordFile, connectTimeout,
                requestTimeout, stallTimeout, maxAttempts, backoffBase, backoffMax);
    }

    /** The same with other timeouts. */
    public TransferSettings withTimeouts(Duration connect, Duration request, Duration stall) {
        return new TransferSettings(baseUri, token, tokenFile, truststore, truststorePasswordFile, connect, request,
                stall, maxAttempts, backoffBase, backoffMax);
    }

    @Override
    public String toString() {
        // Never print the token.
        return "TransferSettings[baseUri=" + baseUri + ", tokenFile=" + tokenFile + ", truststore=" + truststore + ", connectTimeout="
                + connectTimeout + ", requestTimeout=" + requestTimeout + ", stallTimeout=" + stallTimeout
                + ", maxAttempts=" + maxAttempts + ", backoff=" + backoffBase + ".." + backoffMax + "]";
    }
}

package io.resilientkvm.importer.transfer;

import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.tls.Loopback;
import io.resilientkvm.engine.tls.PinnedTrust;
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
 * @param pinned         the main's pinned certificate and this node's client identity; empty: not pinned
 */
public record TransferSettings(URI baseUri, String token, Optional<Path> tokenFile, Optional<Path> truststore,
        Optional<Path> truststorePasswordFile, Duration connectTimeout, Duration requestTimeout, Duration stallTimeout,
        int maxAttempts, Duration backoffBase, Duration backoffMax, Optional<PinnedMain> pinned) {
    public static final int DEFAULT_ATTEMPTS = 5;

    /**
     * A main trusted by its pinned certificate only, and this node's identity presented to it.
     *
     * @param node     the main's node name (in messages)
     * @param trust    exactly the main's pinned certificate ({@code PinnedTrust.of(peers).only(node)})
     * @param identity this node's {@code tls}: the client certificate
     */
    public record PinnedMain(String node, PinnedTrust trust, NodeConfig.Identity identity) {
        public PinnedMain {
            Objects.requireNonNull(node, "node");
            Objects.requireNonNull(trust, "trust");
            Objects.requireNonNull(identity, "identity");
            if (trust.isEmpty()) {
                throw new IllegalArgumentException("no certificate is pinned for " + node);
            }
        }
    }

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
        Objects.requireNonNull(pinned, "pinned");
        if (pinned.isPresent() && truststore.isPresent()) {
            throw new IllegalStateException("a pinned main is trusted by its pinned certificate only: no truststore with it");
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
                Duration.ofSeconds(30), Optional.empty());
    }

    /** The same with another retry policy. */
    public TransferSettings withRetries(int attempts, Duration base, Duration max) {
        return new TransferSettings(baseUri, token, tokenFile, truststore, truststorePasswordFile, connectTimeout,
                requestTimeout, stallTimeout, attempts, base, max, pinned);
    }

    /** The same trusting the certificates in a PKCS12 truststore (a self-signed main). */
    public TransferSettings withTruststore(Path store, Path passwordFile) {
        return new TransferSettings(baseUri, token, tokenFile, Optional.of(store), Optional.of(passwordFile),
                connectTimeout, requestTimeout, stallTimeout, maxAttempts, backoffBase, backoffMax, pinned);
    }

    /** The same naming the file the token was read from (in the message when the server refuses it). */
    public TransferSettings withTokenFile(Path file) {
        return new TransferSettings(baseUri, token, Optional.of(file), truststore, truststorePasswordFile, connectTimeout,
                requestTimeout, stallTimeout, maxAttempts, backoffBase, backoffMax, pinned);
    }

    /** The same trusting only the main {@code node}'s pinned certificate and presenting this node's {@code identity}. */
    public TransferSettings withPinnedMain(String node, PinnedTrust trust, NodeConfig.Identity identity) {
        return new TransferSettings(baseUri, token, tokenFile, truststore, truststorePasswordFile, connectTimeout,
                requestTimeout, stallTimeout, maxAttempts, backoffBase, backoffMax,
                Optional.of(new PinnedMain(node, trust, identity)));
    }

    /**
     * Why fetching from {@link #baseUri} is refused before any connection, or empty: plain HTTP
     * beyond loopback (the token and the backups would cross the network in clear), plain HTTP to
     * a pinned main, and HTTPS beyond loopback to a main neither pinned nor covered by a truststore.
     */
    public Optional<String> refusal() {
        boolean local = Loopback.is(baseUri.getHost());
        String main = pinned.map(p -> "the main " + p.node()).orElse("the main");
        if ("http".equals(baseUri.getScheme()) && (!local || pinned.isPresent())) {
            return Optional.of(main + " at " + baseUri + " serves without TLS: a clone sends its token and takes backups only over "
                    + "TLS " + (local ? "from a pinned main" : "beyond loopback") + "; set tls on the main (bin/node secrets)");
        }
        if ("https".equals(baseUri.getScheme()) && !local && pinned.isEmpty() && truststore.isEmpty()) {
            return Optional.of(main + " at " + baseUri + " is not pinned: set peers.MAIN.certificate or peers.MAIN.fingerprint "
                    + "in this node's configuration (or a truststore for a main with a CA-signed certificate)");
        }
        return Optional.empty();
    }

    /** The same with other timeouts. */
    public TransferSettings withTimeouts(Duration connect, Duration request, Duration stall) {
        return new TransferSettings(baseUri, token, tokenFile, truststore, truststorePasswordFile, connect, request,
                stall, maxAttempts, backoffBase, backoffMax, pinned);
    }

    @Override
    public String toString() {
        // Never print the token.
        return "TransferSettings[baseUri=" + baseUri + ", tokenFile=" + tokenFile + ", truststore=" + truststore + ", connectTimeout="
                + connectTimeout + ", requestTimeout=" + requestTimeout + ", stallTimeout=" + stallTimeout
                + ", maxAttempts=" + maxAttempts + ", backoff=" + backoffBase + ".." + backoffMax
                + ", pinned=" + pinned.map(PinnedMain::node).orElse("no") + "]";
    }
}

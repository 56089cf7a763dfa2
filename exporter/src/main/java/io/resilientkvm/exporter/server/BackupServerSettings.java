package io.resilientkvm.exporter.server;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.instance.BackupServerLimits;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.tls.PinnedTrust;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What the backup server needs, fixed at start.
 *
 * @param bind                 address to listen on (an IP or host name; 127.0.0.1 unless configured)
 * @param port                 TCP port; 0 picks a free one ({@link BackupServer#port()} tells which)
 * @param repository           the repository root served read-only
 * @param tokenFile            file holding the bearer token clients must present
 * @param keystore             PKCS12 keystore: when present the server speaks HTTPS only
 * @param keystorePasswordFile file holding the keystore's password (required with a keystore)
 * @param threads              request threads (at most this many transfers at once; Jetty adds its own few)
 * @param limits               what each client may hold: time limits, connection caps, the 401 backoff
 * @param peerTokens           each clone's token file ({@code peers.NODE.token-file}); when empty, {@code tokenFile}
 *                             is the one token accepted
 * @param clients              the clients' pinned certificates: when not empty (and serving TLS) a client
 *                             certificate is required, and the caller is known by it
 * @param keystoreSetting      the configuration key the keystore came from, named in errors
 */
public record BackupServerSettings(String bind, int port, Path repository, Path tokenFile, Optional<Path> keystore,
        Optional<Path> keystorePasswordFile, int threads, BackupServerLimits limits, Map<String, Path> peerTokens,
        PinnedTrust clients, String keystoreSetting) {
    public static final String DEFAULT_BIND = "127.0.0.1";
    public static final int DEFAULT_THREADS = 8;
    private static final String KEYSTORE = "backup-server.keystore";

    public BackupServerSettings {
        Objects.requireNonNull(bind, "bind");
        Objects.requireNonNull(repository, "repository");
        Objects.requireNonNull(tokenFile, "tokenFile");
        Objects.requireNonNull(keystore, "keystore");
        Objects.requireNonNull(keystorePasswordFile, "keystorePasswordFile");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(clients, "clients");
        Objects.requireNonNull(keystoreSetting, "keystoreSetting");
        peerTokens = Map.copyOf(peerTokens);
        if (bind.isBlank()) {
            throw new IllegalArgumentException("bind must name an address, e.g. " + DEFAULT_BIND);
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0..65535, not " + port);
        }
        if (threads < 1 || threads > 256) {
            throw new IllegalArgumentException("threads must be 1..256, not " + threads);
        }
        if (keystore.isPresent() != keystorePasswordFile.isPresent()) {
            throw new IllegalStateException("keystore and keystorePasswordFile go together: set both for TLS or neither");
        }
    }

    /** Shared token, no pinned clients. */
    public BackupServerSettings(String bind, int port, Path repository, Path tokenFile, Optional<Path> keystore,
            Optional<Path> keystorePasswordFile, int threads, BackupServerLimits limits) {
        this(bind, port, repository, tokenFile, keystore, keystorePasswordFile, threads, limits, Map.of(), PinnedTrust.NONE,
                KEYSTORE);
    }

    /** With the default limits. */
    public BackupServerSettings(String bind, int port, Path repository, Path tokenFile, Optional<Path> keystore,
            Optional<Path> keystorePasswordFile, int threads) {
        this(bind, port, repository, tokenFile, keystore, keystorePasswordFile, threads, BackupServerLimits.DEFAULTS);
    }

    /** Plain HTTP on loopback with an ephemeral port: the usual test and single-host setting. */
    public static BackupServerSettings loopback(Path repository, Path tokenFile) {
        return new BackupServerSettings(DEFAULT_BIND, 0, repository, tokenFile, Optional.empty(), Optional.empty(),
                DEFAULT_THREADS);
    }

    /** The same settings serving HTTPS with {@code keystore} (PKCS12). */
    public BackupServerSettings withTls(Path keystore, Path keystorePasswordFile) {
        return new BackupServerSettings(bind, port, repository, tokenFile, Optional.of(keystore),
                Optional.of(keystorePasswordFile), threads, limits, peerTokens, clients, keystoreSetting);
    }

    /** The same accepting each clone's own token ({@code tokens}: node to file) and requiring the pinned client certificates. */
    public BackupServerSettings withPeers(Map<String, Path> tokens, PinnedTrust pinned) {
        return new BackupServerSettings(bind, port, repository, tokenFile, keystore, keystorePasswordFile, threads, limits,
                tokens, pinned, keystoreSetting);
    }

    /** The same settings with other client limits. */
    public BackupServerSettings withLimits(BackupServerLimits other) {
        return new BackupServerSettings(bind, port, repository, tokenFile, keystore, keystorePasswordFile, threads, other,
                peerTokens, clients, keystoreSetting);
    }

    /**
     * From a node configuration: its {@code backup-server}, served with {@code backup-server.keystore}
     * if set, else the node's {@code tls} identity; the clones' tokens and pinned certificates from {@code peers}.
     */
    public static BackupServerSettings from(NodeConfig config, Path repository) throws BadInputException {
        BackupServerSettings s = from(config.backupServer(), repository);
        if (s.keystore().isEmpty() && config.tls().isPresent()) {
            NodeConfig.Identity id = config.tls().get();
            s = new BackupServerSettings(s.bind(), s.port(), repository, s.tokenFile(), Optional.of(id.keystore()),
                    Optional.of(id.keystorePasswordFile()), s.threads(), s.limits(), Map.of(), PinnedTrust.NONE, "tls.keystore");
        }
        Map<String, Path> tokens = new TreeMap<>();
        config.peers().forEach((node, peer) -> peer.tokenFile().ifPresent(f -> tokens.put(node, f)));
        return s.withPeers(tokens, PinnedTrust.of(config.peers()));
    }

    /** From the node configuration's {@code backup-server} object; a token file is required. */
    public static BackupServerSettings from(NodeConfig.BackupServer config, Path repository) throws BadInputException {
        Path token = config.tokenFile().orElseThrow(() -> new BadInputException(
                "backup-server.token-file is not set in the node configuration: the backup server never serves "
                        + "without a token; write a random token to a file readable only by this user and name it there"));
        if (config.keystore().isPresent() != config.keystorePasswordFile().isPresent()) {
            throw new BadInputException("backup-server.keystore and backup-server.keystore-password-file go together: "
                    + "set both to serve over TLS, or neither");
        }
        String bind = config.bind() == null || config.bind().isBlank() ? DEFAULT_BIND : config.bind();
        return new BackupServerSettings(bind, config.port(), repository, token, config.keystore(),
                config.keystorePasswordFile(), DEFAULT_THREADS, config.limits());
    }
}

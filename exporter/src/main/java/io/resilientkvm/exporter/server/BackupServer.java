package io.resilientkvm.exporter.server;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.instance.BackupServerLimits;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.engine.backup.TlsContexts;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a backup repository read-only to the clones (see {@code docs/backup-server.md}):
 * {@code GET|HEAD /v1/repository/<device>/<chain>/<file>} with a bearer token, single byte
 * ranges for resumed downloads, and {@code GET /v1/health}. Only complete backups (those with a
 * manifest) are served, and only files whose real path lies under the repository root.
 * Files stream through a fixed 1 MiB buffer per request.
 *
 * <p>Jetty 12 carries the HTTP(S): it reads request heads without holding a thread, closes
 * connections idle for {@link BackupServerLimits#idleTimeout()} (no byte either way, including a
 * response the client stopped reading) and caps all connections ({@link NetworkConnectionLimit});
 * {@link ConnectionGuard} adds the per-address cap and the request-head deadline, and
 * {@link AuthBackoff} holds back the 401s of an address that keeps failing, on Jetty's scheduler,
 * never a request with the right token.
 */
public final class BackupServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BackupServer.class);
    /** Jetty's own acceptor and selector threads, beside the request threads. */
    private static final int JETTY_THREADS = 4;

    private final Server server;
    private final ServerConnector connector;
    private final InetAddress bound;
    private final Path root;
    private final boolean tls;
    private final ConnectionGuard guard;
    private final LifecycleState lifecycle = new LifecycleState("backup server");

    private BackupServer(Server server, ServerConnector connector, InetAddress bound, Path root, boolean tls,
            ConnectionGuard guard) {
        this.server = server;
        this.connector = connector;
        this.bound = bound;
        this.root = root;
        this.tls = tls;
        this.guard = guard;
    }

    /**
     * Starts serving. Bad settings (missing token, unreadable keystore, no repository folder)
     * are bad input; a port that cannot be bound fails the operation.
     */
    public static BackupServer start(BackupServerSettings settings) throws BadInputException, OperationFailedException {
        ClientTokens tokens = settings.peerTokens().isEmpty() ? ClientTokens.shared(settings.tokenFile())
                : ClientTokens.perNode(settings.peerTokens());
        Path root;
        try {
            Files.createDirectories(settings.repository());
            root = settings.repository().toRealPath();
        } catch (IOException e) {
            throw new BadInputException("backup repository " + settings.repository() + " is not a usable folder ("
                    + e.getMessage() + "); check the instance's data directory", e);
        }
        Optional<SSLContext> ssl = Optional.empty();
        boolean pinned = settings.keystore().isPresent() && !settings.clients().isEmpty();
        if (pinned) {
            ssl = Optional.of(TlsContexts.mutual(settings.keystore().get(), settings.keystorePasswordFile().orElseThrow(),
                    settings.keystoreSetting(), settings.clients().trustManager()));
        } else if (settings.keystore().isPresent()) {
            ssl = Optional.of(TlsContexts.serving(settings.keystore().get(), settings.keystorePasswordFile().orElseThrow(),
                    settings.keystoreSetting()));
        }
        InetAddress bind;
        try {
            bind = InetAddress.getByName(settings.bind());
        } catch (IOException e) {
            throw new BadInputException("backup-server.bind: '" + settings.bind() + "' is not an address of this host ("
                    + e.getMessage() + ")", e);
        }
        if (ssl.isEmpty() && !bind.isLoopbackAddress()) {
            // Tokens and backups never cross a network in clear text; checked before any socket opens.
            throw new BadInputException("backup-server.bind is " + settings.bind() + ", beyond loopback, but no TLS identity is set:"
                    + " the backup server serves only HTTPS there; set tls (keystore and password file, made by bin/node secrets)"
                    + " or backup-server.keystore, or bind to 127.0.0.1");
        }
        BackupServerLimits limits = settings.limits();
        QueuedThreadPool pool = new QueuedThreadPool(settings.threads() + JETTY_THREADS, 2);
        pool.setName("backup-server");
        pool.setDaemon(true);
        pool.setReservedThreads(0);
        pool.setStopTimeout(10_000);
        Server server = new Server(pool);
        server.setStopTimeout(0);
        ConnectionGuard guard = new ConnectionGuard(limits.connectionsPerAddress(), limits.requestTimeout(),
                System::nanoTime);
        ServerConnector connector = new ServerConnector(server, 1, 1, connectionFactories(ssl, pinned));
        connector.setHost(bind.getHostAddress());
        connector.setPort(settings.port());
        connector.setAcceptQueueSize(64);
        connector.setIdleTimeout(limits.idleTimeout().toMillis());
        connector.addEventListener(guard);
        if (ssl.isPresent()) {
            connector.addBean(guard.handshakeListener()); // a refused certificate is logged with the reason
        }
        server.addConnector(connector);
        server.addBean(guard);
        server.addBean(new NetworkConnectionLimit(limits.connections(), connector));
        AuthBackoff backoff = new AuthBackoff(limits.authFailuresBeforeBackoff(), limits.authBackoffMax(),
                System::nanoTime);
        BackupServer bs = new BackupServer(server, connector, bind, root, ssl.isPresent(), guard);
        server.setHandler(new BackupRequestHandler(root, tokens, settings.clients(), guard, backoff));
        server.setRequestLog(new AccessLog());
        try {
            server.start();
            bs.lifecycle.markStarted();
        } catch (Exception e) {
            stopQuietly(server); // the port may be bound already: a failed start must not keep it
            throw new OperationFailedException("backup server cannot listen on " + settings.bind() + ":" + settings.port()
                    + " (" + e.getMessage() + "); free the port or set backup-server.port", e);
        }
        LOG.info("Backup server serving {} on {} ({}, {}; limits: request head within {} ms, idle {} ms, {} connections "
                + "per address, {} in all, 401s held after {} failures up to {} ms)", root, bs.baseUri(),
                ssl.isPresent() ? "HTTPS" + (pinned ? " requiring a pinned client certificate" : "") : "HTTP",
                tokens.perNode() ? "a token per clone " + settings.peerTokens().keySet() : "one shared token",
                limits.requestTimeout().toMillis(), limits.idleTimeout().toMillis(),
                limits.connectionsPerAddress(), limits.connections(), limits.authFailuresBeforeBackoff(),
                limits.authBackoffMax().toMillis());
        return bs;
    }

    private static ConnectionFactory[] connectionFactories(Optional<SSLContext> ssl, boolean needClientCertificate) {
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        HttpConnectionFactory h1 = new HttpConnectionFactory(http);
        if (ssl.isEmpty()) {
            return new ConnectionFactory[] {h1};
        }
        SslContextFactory.Server tlsFactory = new SslContextFactory.Server();
        tlsFactory.setSslContext(ssl.get());
        tlsFactory.setNeedClientAuth(needClientCertificate);
        return new ConnectionFactory[] {new SslConnectionFactory(tlsFactory, h1.getProtocol()), h1};
    }

    private static void stopQuietly(Server server) {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.debug("Backup server: stopping after a failed start: {}", e.toString());
        }
    }

    /** The port actually bound (useful with port 0). */
    public int port() {
        return connector.getLocalPort();
    }

    /** The address actually bound. */
    public InetSocketAddress address() {
        return new InetSocketAddress(bound, port());
    }

    /** True when serving HTTPS. */
    public boolean tls() {
        return tls;
    }

    /** {@code http(s)://<bound address>:<port>}; a wildcard bind is given as 127.0.0.1. */
    public URI baseUri() {
        InetAddress a = bound;
        String host = a.isAnyLocalAddress() ? "127.0.0.1"
                : a instanceof Inet6Address ? "[" + a.getHostAddress() + "]" : a.getHostAddress();
        return URI.create((tls ? "https" : "http") + "://" + host + ":" + port());
    }

    /** The repository root served (its real path). */
    public Path repository() {
        return root;
    }

    /** Connections open now from {@code address} (the per-address cap counts these). */
    public int openConnectionsFrom(InetAddress address) {
        return guard.openFrom(address);
    }

    /** Stops listening, drops open connections and stops the threads; idempotent. */
    @Override
    public void close() {
        if (!lifecycle.markClosed()) {
            return;
        }
        int port = port();
        try {
            server.stop();
        } catch (Exception e) {
            LOG.warn("Backup server on port {}: stopping failed: {}", port, e.toString());
        }
        LOG.info("Backup server on port {} stopped", port);
    }

}

package io.resilientkvm.node.peer;

import io.resilientkvm.engine.backup.TlsContexts;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.eclipse.jetty.io.ssl.SslHandshakeListener;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's end of the peer channel (see {@code docs/peer-channel.md}): HTTPS with a required
 * client certificate, trusting exactly the pinned peers, serving with the node's {@code tls}
 * identity. A client whose certificate is not pinned fails the handshake and never reaches an
 * endpoint; every request is attributed to the node its certificate is pinned for.
 *
 * <p>It serves {@code GET /v1/hello} (a {@link PeerView} from the supplier given) and whatever is
 * {@link #register}ed while it runs. Lifecycle: {@link #start} returns it serving; {@link #close()}
 * stops it, its connections and its threads; idempotent.
 */
public final class PeerChannelServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PeerChannelServer.class);
    public static final String HELLO = "/v1/hello";
    /** Jetty's acceptor and selector threads, beside the request threads. */
    private static final int JETTY_THREADS = 4;
    private static final Pattern PATH = Pattern.compile("/v[0-9]+(/[a-z0-9][a-z0-9-]*)+");
    private static final long HANDSHAKE_LOG_INTERVAL_NANOS = 10_000_000_000L;

    /** A registered endpoint; closing it removes the endpoint (later requests get 404). */
    public interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    private final String node;
    private final Server server;
    private final ServerConnector connector;
    private final InetAddress bound;
    private final Map<String, PeerRequestHandler.Route> routes;
    private final LifecycleState lifecycle;

    private PeerChannelServer(String node, Server server, ServerConnector connector, InetAddress bound,
            Map<String, PeerRequestHandler.Route> routes) {
        this.node = node;
        this.server = server;
        this.connector = connector;
        this.bound = bound;
        this.routes = routes;
        this.lifecycle = new LifecycleState("peer channel of " + node);
    }

    /**
     * Starts serving on {@code peer-channel.bind}:{@code port}. An unreadable keystore or a bind
     * address that is not this host's is bad input; a port that cannot be bound fails the operation.
     */
    public static PeerChannelServer start(PeerChannelSettings settings, Supplier<PeerView> view)
            throws BadInputException, OperationFailedException {
        Objects.requireNonNull(view, "view");
        SSLContext ssl = TlsContexts.mutual(settings.identity().keystore(), settings.identity().keystorePasswordFile(),
                "tls.keystore", settings.trust().trustManager());
        InetAddress bind;
        try {
            bind = InetAddress.getByName(settings.bind());
        } catch (IOException e) {
            throw new BadInputException("peer-channel.bind: '" + settings.bind() + "' is not an address of this host ("
                    + e.getMessage() + ")", e);
        }
        PeerChannelSettings.Limits limits = settings.limits();
        String name = "peer-channel-" + settings.node();
        QueuedThreadPool pool = new QueuedThreadPool(limits.concurrentPerCaller() * Math.max(1, settings.peers().size())
                + JETTY_THREADS, 2);
        pool.setName(name);
        pool.setDaemon(true);
        pool.setReservedThreads(0);
        pool.setStopTimeout(5_000);
        Server server = new Server(pool, new ScheduledExecutorScheduler(name + "-scheduler", true), null);
        server.setStopTimeout(0);

        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        // Pinned keys are the identity, not host names: no SNI or Host check against the certificate.
        http.addCustomizer(new SecureRequestCustomizer(false, false, -1, false));
        SslContextFactory.Server tls = new SslContextFactory.Server();
        tls.setSslContext(ssl);
        tls.setNeedClientAuth(true);
        HttpConnectionFactory h1 = new HttpConnectionFactory(http);
        SslConnectionFactory tlsFactory = new SslConnectionFactory(tls, h1.getProtocol());
        tlsFactory.addBean(new HandshakeLog(settings.node()));
        ServerConnector connector = new ServerConnector(server, 1, 1, tlsFactory, h1);
        connector.setHost(bind.getHostAddress());
        connector.setPort(settings.port());
        connector.setAcceptQueueSize(16);
        connector.setIdleTimeout(limits.idleTimeout().toMillis());
        server.addConnector(connector);
        server.addBean(new NetworkConnectionLimit(limits.connections(), connector));

        Map<String, PeerRequestHandler.Route> routes = new ConcurrentHashMap<>();
        server.setHandler(new PeerRequestHandler(settings.node(), settings.trust(), routes,
                new CallerLimits(limits.concurrentPerCaller(), limits.requestsPerSecondPerCaller(), System::nanoTime),
                limits.requestTimeout(), limits.maxBodyBytes()));
        PeerChannelServer channel = new PeerChannelServer(settings.node(), server, connector, bind, routes);
        channel.register("GET", HELLO, Void.class, (caller, none) -> view.get());
        try {
            server.start();
            channel.lifecycle.markStarted();
        } catch (Exception e) {
            stopQuietly(server); // the port may be bound already: a failed start must not keep it
            throw new OperationFailedException("peer channel cannot listen on " + settings.bind() + ":" + settings.port()
                    + " (" + e.getMessage() + "); free the port or set peer-channel.port", e);
        }
        StringBuilder trusted = new StringBuilder();
        settings.trust().pinned().forEach((peer, fingerprint) -> trusted.append(trusted.length() == 0 ? "" : ", ")
                .append(peer).append(' ').append(fingerprint));
        LOG.info("Peer channel of {} serving HTTPS on {}:{}, client certificate required; trusts {} (limits: request within"
                + " {} ms, body {} bytes, {} requests at once and {}/s per node, {} connections)", settings.node(),
                bind.getHostAddress(), channel.port(), trusted, limits.requestTimeout().toMillis(), limits.maxBodyBytes(),
                limits.concurrentPerCaller(), limits.requestsPerSecondPerCaller(), limits.connections());
        return channel;
    }

    /**
     * Adds the endpoint {@code method path}: {@code path} is versioned ({@code /v1/...}, lower
     * case); the request body is read as {@code requestType} ({@link Void}: none, as for a GET).
     *
     * @throws IllegalArgumentException for a path that is not versioned
     * @throws IllegalStateException    when that endpoint is registered already, or the server is closed
     */
    @SuppressWarnings("unchecked")
    public <Q, A> Registration register(String method, String path, Class<Q> requestType, PeerHandler<Q, A> handler) {
        Objects.requireNonNull(method, "method");
        Objects.requireNonNull(requestType, "requestType");
        Objects.requireNonNull(handler, "handler");
        if (!PATH.matcher(path).matches()) {
            throw new IllegalArgumentException("a peer channel path is versioned and lower case, like /v1/acknowledge, not '"
                    + path + "'");
        }
        if (lifecycle.isClosed()) {
            throw new IllegalStateException("the peer channel of " + node + " is closed: cannot register " + method + " " + path);
        }
        String key = PeerRequestHandler.key(method, path);
        PeerRequestHandler.Route route = new PeerRequestHandler.Route(method, path, requestType,
                (PeerHandler<Object, ?>) (PeerHandler<?, ?>) handler);
        if (routes.putIfAbsent(key, route) != null) {
            throw new IllegalStateException(method + " " + path + " is registered already on the peer channel of " + node);
        }
        return () -> routes.remove(key, route);
    }

    /** The port actually bound (useful with port 0). */
    public int port() {
        return connector.getLocalPort();
    }

    /** The address and port actually bound. */
    public InetSocketAddress address() {
        return new InetSocketAddress(bound, port());
    }

    /** Stops listening, drops open connections and stops its threads; later calls do nothing. */
    @Override
    public void close() {
        if (!lifecycle.markClosed()) {
            return;
        }
        int port = port();
        stopQuietly(server);
        LOG.info("Peer channel of {} on port {} stopped", node, port);
    }

    private static void stopQuietly(Server server) {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.warn("Peer channel: stopping failed: {}", e.toString());
        }
    }

    /** Logs refused handshakes (an unpinned or missing client certificate), at most one line per 10 s with a count. */
    private static final class HandshakeLog implements SslHandshakeListener {
        private final String node;
        private final AtomicLong lastLogged = new AtomicLong(System.nanoTime() - HANDSHAKE_LOG_INTERVAL_NANOS - 1);
        private final AtomicLong unlogged = new AtomicLong();

        HandshakeLog(String node) {
            this.node = node;
        }

        @Override
        public void handshakeFailed(Event event, Throwable failure) {
            long now = System.nanoTime();
            long last = lastLogged.get();
            if (now - last <= HANDSHAKE_LOG_INTERVAL_NANOS || !lastLogged.compareAndSet(last, now)) {
                unlogged.incrementAndGet();
                return;
            }
            long more = unlogged.getAndSet(0);
            LOG.warn("Peer channel of {}: refused a TLS handshake from {}: {}{}", node, event.getEndPoint().getRemoteSocketAddress(),
                    failure.getMessage(), more == 0 ? "" : " (and " + more + " more since the last such line)");
        }
    }
}

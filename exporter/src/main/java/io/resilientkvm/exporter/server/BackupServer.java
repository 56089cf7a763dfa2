package io.resilientkvm.exporter.server;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.instance.BackupServerLimits;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.engine.secret.SecretFiles;
import io.resilientkvm.engine.backup.TlsContexts;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
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
    /** One line per request: method, path, status, bytes, milliseconds (never the token). */
    private static final Logger ACCESS = LoggerFactory.getLogger(BackupServer.class.getName() + ".access");
    private static final int BUFFER = 1 << 20;
    private static final Pattern RANGE = Pattern.compile("bytes=([0-9]{1,18})-([0-9]{0,18})");
    private static final String BEARER = "bearer ";
    /** Jetty's own acceptor and selector threads, beside the request threads. */
    private static final int JETTY_THREADS = 4;

    private final Server server;
    private final ServerConnector connector;
    private final InetAddress bound;
    private final Path root;
    private final byte[] token;
    private final boolean tls;
    private final ConnectionGuard guard;
    private final AuthBackoff backoff;
    private final LifecycleState lifecycle = new LifecycleState("backup server");

    private BackupServer(Server server, ServerConnector connector, InetAddress bound, Path root, byte[] token,
            boolean tls, ConnectionGuard guard, AuthBackoff backoff) {
        this.server = server;
        this.connector = connector;
        this.bound = bound;
        this.root = root;
        this.token = token;
        this.tls = tls;
        this.guard = guard;
        this.backoff = backoff;
    }

    /**
     * Starts serving. Bad settings (missing token, unreadable keystore, no repository folder)
     * are bad input; a port that cannot be bound fails the operation.
     */
    public static BackupServer start(BackupServerSettings settings) throws BadInputException, OperationFailedException {
        byte[] token = SecretFiles.readToken(settings.tokenFile(), "backup-server.token-file")
                .getBytes(StandardCharsets.UTF_8);
        Path root;
        try {
            Files.createDirectories(settings.repository());
            root = settings.repository().toRealPath();
        } catch (IOException e) {
            throw new BadInputException("backup repository " + settings.repository() + " is not a usable folder ("
                    + e.getMessage() + "); check the instance's data directory", e);
        }
        Optional<SSLContext> ssl = Optional.empty();
        if (settings.keystore().isPresent()) {
            ssl = Optional.of(TlsContexts.serving(settings.keystore().get(), settings.keystorePasswordFile().orElseThrow()));
        }
        InetAddress bind;
        try {
            bind = InetAddress.getByName(settings.bind());
        } catch (IOException e) {
            throw new BadInputException("backup-server.bind: '" + settings.bind() + "' is not an address of this host ("
                    + e.getMessage() + ")", e);
        }
        BackupServerLimits limits = settings.limits();
        QueuedThreadPool pool = new QueuedThreadPool(settings.threads() + JETTY_THREADS, 2);
        pool.setName("backup-server");
        pool.setDaemon(true);
        pool.setReservedThreads(0);
        pool.setStopTimeout(10_000);
        Server server = new Server(pool);
        server.setStopTimeout(0);
        ServerConnector connector = new ServerConnector(server, 1, 1, connectionFactories(ssl));
        connector.setHost(bind.getHostAddress());
        connector.setPort(settings.port());
        connector.setAcceptQueueSize(64);
        connector.setIdleTimeout(limits.idleTimeout().toMillis());
        ConnectionGuard guard = new ConnectionGuard(limits.connectionsPerAddress(), limits.requestTimeout(),
                System::nanoTime);
        connector.addEventListener(guard);
        server.addConnector(connector);
        server.addBean(guard);
        server.addBean(new NetworkConnectionLimit(limits.connections(), connector));
        AuthBackoff backoff = new AuthBackoff(limits.authFailuresBeforeBackoff(), limits.authBackoffMax(),
                System::nanoTime);
        BackupServer bs = new BackupServer(server, connector, bind, root, token, ssl.isPresent(), guard, backoff);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                return bs.handle(request, response, callback);
            }
        });
        server.setRequestLog(BackupServer::logAccess);
        try {
            server.start();
            bs.lifecycle.markStarted();
        } catch (Exception e) {
            stopQuietly(server); // the port may be bound already: a failed start must not keep it
            throw new OperationFailedException("backup server cannot listen on " + settings.bind() + ":" + settings.port()
                    + " (" + e.getMessage() + "); free the port or set backup-server.port", e);
        }
        LOG.info("Backup server serving {} on {} ({}; limits: request head within {} ms, idle {} ms, {} connections "
                + "per address, {} in all, 401s held after {} failures up to {} ms)", root, bs.baseUri(),
                ssl.isPresent() ? "HTTPS" : "HTTP", limits.requestTimeout().toMillis(), limits.idleTimeout().toMillis(),
                limits.connectionsPerAddress(), limits.connections(), limits.authFailuresBeforeBackoff(),
                limits.authBackoffMax().toMillis());
        return bs;
    }

    private static ConnectionFactory[] connectionFactories(Optional<SSLContext> ssl) {
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        HttpConnectionFactory h1 = new HttpConnectionFactory(http);
        if (ssl.isEmpty()) {
            return new ConnectionFactory[] {h1};
        }
        SslContextFactory.Server tlsFactory = new SslContextFactory.Server();
        tlsFactory.setSslContext(ssl.get());
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

    /** One line per exchange, once it is complete (Jetty calls it for the requests it refused itself too). */
    private static void logAccess(Request request, Response response) {
        long ms = System.currentTimeMillis() - Request.getTimeStamp(request);
        ACCESS.info("{} {} {} {} {} {}ms", request.getConnectionMetaData().getRemoteSocketAddress(),
                request.getMethod(), printable(request.getHttpURI().getPathQuery()), response.getStatus(),
                Response.getContentBytesWritten(response), ms);
    }

    private boolean handle(Request request, Response response, Callback callback) {
        SocketAddress remote = request.getConnectionMetaData().getRemoteSocketAddress();
        guard.requestStarted(remote);
        Request.addCompletionListener(request, failure -> guard.requestEnded(remote));
        try {
            respond(request, response, callback);
        } catch (IOException e) {
            // Usually the client went away mid-transfer; it resumes with a Range.
            LOG.debug("Backup server: {} {} ended early: {}", request.getMethod(),
                    printable(request.getHttpURI().getPathQuery()), e.toString());
            callback.failed(e);
        } catch (RuntimeException e) {
            LOG.error("Backup server: {} {} failed", request.getMethod(), printable(request.getHttpURI().getPathQuery()), e);
            callback.failed(e);
        }
        return true;
    }

    private void respond(Request request, Response response, Callback callback) throws IOException {
        String method = request.getMethod();
        boolean head = "HEAD".equals(method);
        if (!head && !"GET".equals(method)) {
            response.getHeaders().put(HttpHeader.ALLOW, "GET, HEAD");
            text(request, response, callback, 405, "method not allowed: use GET or HEAD");
            return;
        }
        HttpURI uri = request.getHttpURI();
        String raw = uri.getPath();
        boolean plain = uri.getQuery() == null && uri.getFragment() == null && raw != null;
        if (plain && BackupPaths.HEALTH.equals(raw)) {
            text(request, response, callback, 200, "ok");
            return;
        }
        if (!authorized(request)) {
            response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer realm=\"resilient-kvm\"");
            refuse(request, response, callback);
            return;
        }
        Optional<BackupPaths.Ref> ref = plain ? BackupPaths.parse(raw) : Optional.empty();
        if (ref.isEmpty()) {
            text(request, response, callback, 400, "not a repository path: expected " + BackupPaths.REPOSITORY_PREFIX
                    + "<device>/<chain>/<FULL|INC>-<time>.qcow2[.json]");
            return;
        }
        Optional<Path> file = servable(ref.get());
        if (file.isEmpty()) {
            text(request, response, callback, 404, "no complete backup file at " + ref.get().urlPath());
            return;
        }
        serve(request, response, callback, file.get(), head, ref.get().isManifest());
    }

    /** A 401, held back on Jetty's scheduler (no thread waits) when the address keeps failing. */
    private void refuse(Request request, Response response, Callback callback) {
        InetAddress from = request.getConnectionMetaData().getRemoteSocketAddress() instanceof InetSocketAddress a
                ? a.getAddress() : null;
        Duration hold = from == null ? Duration.ZERO : backoff.failed(from);
        if (hold.isZero()) {
            text(request, response, callback, 401, "a valid bearer token is required");
            return;
        }
        if (hold.compareTo(AuthBackoff.FIRST) == 0 || hold.compareTo(backoff.hold(backoff.failures(from) - 1)) > 0) {
            LOG.warn("Backup server: {} failed authentications from {}: its 401s are held back {} ms now "
                    + "(backup-server.limits.auth-failures-before-backoff, auth-backoff-max-ms)",
                    backoff.failures(from), from.getHostAddress(), hold.toMillis());
        }
        request.getComponents().getScheduler().schedule(
                () -> text(request, response, callback, 401, "a valid bearer token is required"),
                hold.toMillis(), TimeUnit.MILLISECONDS);
    }

    private boolean authorized(Request request) {
        String header = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        if (header == null || header.length() <= BEARER.length()
                || !header.substring(0, BEARER.length()).toLowerCase(Locale.ROOT).equals(BEARER)) {
            return false;
        }
        byte[] given = header.substring(BEARER.length()).strip().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, token);
    }

    /**
     * The real path of a complete backup file (or its manifest), or empty: no manifest, not a
     * regular file, or a real path (after symlinks) outside the repository.
     */
    private Optional<Path> servable(BackupPaths.Ref ref) throws IOException {
        // Both the backup file and its manifest must be real and inside, whichever is asked for.
        Path backup = ref.resolve(root).resolveSibling(ref.backupFile());
        Path manifest = BackupManifest.manifestPath(backup);
        if (!Files.isRegularFile(backup) || !Files.isRegularFile(manifest)) {
            return Optional.empty();
        }
        Path realBackup = backup.toRealPath();
        Path realManifest = manifest.toRealPath();
        if (!realBackup.startsWith(root) || !realManifest.startsWith(root)) {
            LOG.warn("Backup server: refused {}: it resolves to {} outside the repository {}", ref.urlPath(),
                    realBackup.startsWith(root) ? realManifest : realBackup, root);
            return Optional.empty();
        }
        return Optional.of(ref.isManifest() ? realManifest : realBackup);
    }

    private void serve(Request request, Response response, Callback callback, Path file, boolean head,
            boolean manifest) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long size = ch.size();
            long start = 0;
            long end = size - 1;
            int status = 200;
            HttpFields.Mutable headers = response.getHeaders();
            headers.put(HttpHeader.ACCEPT_RANGES, "bytes");
            String range = request.getHeaders().get(HttpHeader.RANGE);
            Matcher m = range == null ? null : RANGE.matcher(range.strip());
            // Other range forms (suffix, several ranges) are ignored as HTTP allows: the whole file.
            if (m != null && m.matches()) {
                start = Long.parseLong(m.group(1));
                long last = m.group(2).isEmpty() ? size - 1 : Long.parseLong(m.group(2));
                if (start >= size || last < start) {
                    headers.put(HttpHeader.CONTENT_RANGE, "bytes */" + size);
                    text(request, response, callback, 416, "range " + range + " is outside the file's " + size + " bytes");
                    return;
                }
                end = Math.min(last, size - 1);
                status = 206;
                headers.put(HttpHeader.CONTENT_RANGE, "bytes " + start + "-" + end + "/" + size);
            }
            long length = end - start + 1;
            headers.put(HttpHeader.CONTENT_TYPE, manifest ? "application/json" : "application/octet-stream");
            headers.put(HttpHeader.CONTENT_LENGTH, length);
            response.setStatus(status);
            if (head || length == 0) {
                callback.succeeded();
                return;
            }
            ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(BUFFER, length));
            // Blocking writes on this request thread; a client that stops reading is cut by the idle timeout.
            try (OutputStream body = Content.Sink.asOutputStream(response)) {
                long pos = start;
                while (pos <= end) {
                    buffer.clear();
                    buffer.limit((int) Math.min(buffer.capacity(), end - pos + 1));
                    int n = ch.read(buffer, pos);
                    if (n < 0) {
                        // The file shrank under us: the client sees a short body and retries.
                        throw new IOException(file + " ended at " + pos + " while serving up to " + end);
                    }
                    body.write(buffer.array(), 0, n);
                    pos += n;
                }
            }
            callback.succeeded();
        }
    }

    /** A short text answer, written without blocking (it may be sent from Jetty's scheduler). */
    private static void text(Request request, Response response, Callback callback, int status, String message) {
        byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        if ("HEAD".equals(request.getMethod())) {
            callback.succeeded();
            return;
        }
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    /** A request target for the log: bounded, no control characters (it comes from the network). */
    private static String printable(String s) {
        String t = s.length() > 300 ? s.substring(0, 300) + "..." : s;
        StringBuilder b = new StringBuilder(t.length());
        for (char c : t.toCharArray()) {
            b.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        return b.toString();
    }
}

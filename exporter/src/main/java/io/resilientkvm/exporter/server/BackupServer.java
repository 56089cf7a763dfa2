package io.resilientkvm.exporter.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.backup.TlsContexts;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a backup repository read-only to the clones (see {@code docs/backup-server.md}):
 * {@code GET|HEAD /v1/repository/<device>/<chain>/<file>} with a bearer token, single byte
 * ranges for resumed downloads, and {@code GET /v1/health}. Only complete backups (those with a
 * manifest) are served, and only files whose real path lies under the repository root.
 * Files stream through a fixed 1 MiB buffer per request; the thread pool is fixed.
 */
public final class BackupServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BackupServer.class);
    /** One line per request: method, path, status, bytes, milliseconds (never the token). */
    private static final Logger ACCESS = LoggerFactory.getLogger(BackupServer.class.getName() + ".access");
    private static final int BUFFER = 1 << 20;
    private static final Pattern RANGE = Pattern.compile("bytes=([0-9]{1,18})-([0-9]{0,18})");
    private static final String BEARER = "bearer ";

    private final HttpServer server;
    private final ExecutorService pool;
    private final Path root;
    private final byte[] token;
    private final boolean tls;
    private final LifecycleState lifecycle = new LifecycleState("backup server");

    private BackupServer(HttpServer server, ExecutorService pool, Path root, byte[] token, boolean tls) {
        this.server = server;
        this.pool = pool;
        this.root = root;
        this.token = token;
        this.tls = tls;
    }

    /**
     * Starts serving. Bad settings (missing token, unreadable keystore, no repository folder)
     * are bad input; a port that cannot be bound fails the operation.
     */
    public static BackupServer start(BackupServerSettings settings) throws BadInputException, OperationFailedException {
        byte[] token = BackupPaths.readSecret(settings.tokenFile(), "backup-server.token-file")
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
        InetSocketAddress address;
        try {
            address = new InetSocketAddress(InetAddress.getByName(settings.bind()), settings.port());
        } catch (IOException e) {
            throw new BadInputException("backup-server.bind: '" + settings.bind() + "' is not an address of this host ("
                    + e.getMessage() + ")", e);
        }
        HttpServer server;
        try {
            if (ssl.isPresent()) {
                HttpsServer https = HttpsServer.create(address, 64);
                https.setHttpsConfigurator(new HttpsConfigurator(ssl.get()));
                server = https;
            } else {
                server = HttpServer.create(address, 64);
            }
        } catch (IOException e) {
            throw new OperationFailedException("backup server cannot listen on " + settings.bind() + ":" + settings.port()
                    + " (" + e.getMessage() + "); free the port or set backup-server.port", e);
        }
        AtomicInteger n = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(settings.threads(), r -> {
            Thread t = new Thread(r, "backup-server-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        BackupServer bs = new BackupServer(server, pool, root, token, ssl.isPresent());
        try {
            server.createContext("/", bs::handle);
            server.setExecutor(pool);
            server.start();
            bs.lifecycle.markStarted();
        } catch (RuntimeException e) {
            bs.close(); // the port is bound already: a failed start must not keep it
            throw e;
        }
        LOG.info("Backup server serving {} on {} ({})", root, bs.baseUri(), ssl.isPresent() ? "HTTPS" : "HTTP");
        return bs;
    }

    /** The port actually bound (useful with port 0). */
    public int port() {
        return server.getAddress().getPort();
    }

    /** The address actually bound. */
    public InetSocketAddress address() {
        return server.getAddress();
    }

    /** True when serving HTTPS. */
    public boolean tls() {
        return tls;
    }

    /** {@code http(s)://<bound address>:<port>}; a wildcard bind is given as 127.0.0.1. */
    public URI baseUri() {
        InetAddress a = server.getAddress().getAddress();
        String host = a.isAnyLocalAddress() ? "127.0.0.1"
                : a instanceof Inet6Address ? "[" + a.getHostAddress() + "]" : a.getHostAddress();
        return URI.create((tls ? "https" : "http") + "://" + host + ":" + port());
    }

    /** The repository root served (its real path). */
    public Path repository() {
        return root;
    }

    /** Stops listening, drops open connections and stops the threads; idempotent. */
    @Override
    public void close() {
        if (!lifecycle.markClosed()) {
            return;
        }
        server.stop(0);
        pool.shutdownNow();
        try {
            if (!pool.awaitTermination(10, TimeUnit.SECONDS)) {
                LOG.warn("Backup server threads still running 10 s after close");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        LOG.info("Backup server on port {} stopped", port());
    }

    /** What one exchange answered, for the access log. */
    private static final class Outcome {
        int status = 500;
        long bytes;
    }

    private void handle(HttpExchange ex) {
        long t0 = System.nanoTime();
        Outcome out = new Outcome();
        String method = ex.getRequestMethod();
        String shown = printable(ex.getRequestURI().toString());
        try {
            respond(ex, out);
        } catch (IOException e) {
            // Usually the client went away mid-transfer; it resumes with a Range.
            LOG.debug("Backup server: {} {} ended early: {}", method, shown, e.toString());
        } catch (RuntimeException e) {
            LOG.error("Backup server: {} {} failed", method, shown, e);
        } finally {
            ex.close();
            ACCESS.info("{} {} {} {} {} {}ms", ex.getRemoteAddress(), method, shown, out.status, out.bytes,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
        }
    }

    private void respond(HttpExchange ex, Outcome out) throws IOException {
        String method = ex.getRequestMethod();
        boolean head = "HEAD".equals(method);
        if (!head && !"GET".equals(method)) {
            ex.getResponseHeaders().set("Allow", "GET, HEAD");
            text(ex, out, 405, "method not allowed: use GET or HEAD");
            return;
        }
        URI uri = ex.getRequestURI();
        String raw = uri.getRawPath();
        boolean plain = uri.getRawAuthority() == null && uri.getRawQuery() == null && uri.getRawFragment() == null
                && raw != null;
        if (plain && BackupPaths.HEALTH.equals(raw)) {
            text(ex, out, 200, "ok");
            return;
        }
        if (!authorized(ex)) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"resilient-kvm\"");
            text(ex, out, 401, "a valid bearer token is required");
            return;
        }
        Optional<BackupPaths.Ref> ref = plain ? BackupPaths.parse(raw) : Optional.empty();
        if (ref.isEmpty()) {
            text(ex, out, 400, "not a repository path: expected " + BackupPaths.REPOSITORY_PREFIX
                    + "<device>/<chain>/<FULL|INC>-<time>.qcow2[.json]");
            return;
        }
        Optional<Path> file = servable(ref.get());
        if (file.isEmpty()) {
            text(ex, out, 404, "no complete backup file at " + ref.get().urlPath());
            return;
        }
        serve(ex, out, file.get(), head, ref.get().isManifest());
    }

    private boolean authorized(HttpExchange ex) {
        String header = ex.getRequestHeaders().getFirst("Authorization");
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

    private void serve(HttpExchange ex, Outcome out, Path file, boolean head, boolean manifest) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            long size = ch.size();
            long start = 0;
            long end = size - 1;
            int status = 200;
            var headers = ex.getResponseHeaders();
            headers.set("Accept-Ranges", "bytes");
            String range = ex.getRequestHeaders().getFirst("Range");
            Matcher m = range == null ? null : RANGE.matcher(range.strip());
            // Other range forms (suffix, several ranges) are ignored as HTTP allows: the whole file.
            if (m != null && m.matches()) {
                start = Long.parseLong(m.group(1));
                long last = m.group(2).isEmpty() ? size - 1 : Long.parseLong(m.group(2));
                if (start >= size || last < start) {
                    headers.set("Content-Range", "bytes */" + size);
                    text(ex, out, 416, "range " + range + " is outside the file's " + size + " bytes");
                    return;
                }
                end = Math.min(last, size - 1);
                status = 206;
                headers.set("Content-Range", "bytes " + start + "-" + end + "/" + size);
            }
            long length = end - start + 1;
            headers.set("Content-Type", manifest ? "application/json" : "application/octet-stream");
            out.status = status;
            if (head || length == 0) {
                headers.set("Content-Length", Long.toString(length));
                ex.sendResponseHeaders(status, -1);
                return;
            }
            ex.sendResponseHeaders(status, length);
            ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(BUFFER, length));
            try (OutputStream body = ex.getResponseBody()) {
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
                    out.bytes += n;
                }
            }
        }
    }

    private static void text(HttpExchange ex, Outcome out, int status, String message) throws IOException {
        out.status = status;
        byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        if ("HEAD".equals(ex.getRequestMethod())) {
            ex.getResponseHeaders().set("Content-Length", Integer.toString(body.length));
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(body);
        }
        out.bytes = body.length;
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

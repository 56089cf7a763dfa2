package io.resilientkvm.engine.guest;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.error.OperationFailedException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The guest file server of {@code enable-http-server}: serves the files of a document root,
 * read-only, to the VM, which reaches it as http://10.0.2.100/ through QEMU's user-mode
 * {@code guestfwd}. It listens on loopback only; its content (a public key, data meant for the
 * VM) is what the guest is given anyway, so it asks for no credentials. Paths never leave the
 * document root: no "..", no symbolic links, no directory listing.
 */
public final class GuestFileServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GuestFileServer.class);

    private final HttpServer server;
    private final ExecutorService executor;
    private final Path root;
    private final AtomicBoolean closed = new AtomicBoolean();

    private GuestFileServer(HttpServer server, ExecutorService executor, Path root) {
        this.server = server;
        this.executor = executor;
        this.root = root;
    }

    /** Starts serving {@code documentRoot} on 127.0.0.1:{@code port} (0 picks a free port). */
    public static GuestFileServer start(Path documentRoot, int port) throws OperationFailedException {
        Path root;
        try {
            Files.createDirectories(documentRoot);
            root = documentRoot.toRealPath();
        } catch (IOException e) {
            throw new OperationFailedException("cannot prepare the guest file server's document root " + documentRoot + ": " + e.getMessage(), e);
        }
        HttpServer server;
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
        } catch (IOException e) {
            throw new OperationFailedException("cannot listen on 127.0.0.1:" + port + " for the guest file server ("
                    + e.getMessage() + "): is httpd-port used by another instance? Choose another httpd-port", e);
        }
        ExecutorService executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "guest-file-server");
            t.setDaemon(true);
            return t;
        });
        GuestFileServer gfs = new GuestFileServer(server, executor, root);
        server.createContext("/", gfs::handle);
        server.setExecutor(executor);
        server.start();
        LOG.info("Guest file server: http://10.0.2.100/ in the VM serves {} (host side 127.0.0.1:{})", root, gfs.port());
        return gfs;
    }

    /** Writes the files the parameters put in the document root: authorized_key and data. */
    public static void publish(Path documentRoot, String authorizedKey, String dataToVm) throws IOException {
        AtomicFiles.createDirectories(documentRoot);
        replace(documentRoot.resolve("authorized_key"), authorizedKey);
        replace(documentRoot.resolve("data"), dataToVm);
    }

    private static void replace(Path file, String content) throws IOException {
        if (content == null) {
            Files.deleteIfExists(file);
            return;
        }
        AtomicFiles.writeAtomically(file, content);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public InetSocketAddress address() {
        return server.getAddress();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String method = exchange.getRequestMethod();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                send(exchange, 405, "only GET and HEAD\n");
                return;
            }
            Path file = resolve(exchange.getRequestURI());
            if (file == null) {
                send(exchange, 404, "not found\n");
                return;
            }
            long size = Files.size(file);
            exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
            if (method.equals("HEAD")) {
                exchange.getResponseHeaders().set("Content-Length", Long.toString(size));
                exchange.sendResponseHeaders(200, -1);
                return;
            }
            exchange.sendResponseHeaders(200, size == 0 ? -1 : size);
            try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS); OutputStream out = exchange.getResponseBody()) {
                in.transferTo(out);
            }
        }
    }

    /** The regular file the URI names inside the root, or null. */
    private Path resolve(URI uri) {
        String path = uri.getPath(); // already percent-decoded
        if (path == null || path.contains("\\") || path.contains("\0")) {
            return null;
        }
        Path candidate = root;
        for (String segment : path.split("/")) {
            if (segment.isEmpty()) {
                continue;
            }
            if (segment.equals("..") || segment.equals(".")) {
                return null;
            }
            candidate = candidate.resolve(segment);
        }
        if (candidate.equals(root) || !candidate.normalize().startsWith(root)
                || !Files.isRegularFile(candidate, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        // Refuse a file reached through a symbolic link to a directory.
        try {
            return candidate.toRealPath().startsWith(root) ? candidate : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static void send(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            server.stop(0);
            executor.shutdownNow();
        }
    }
}

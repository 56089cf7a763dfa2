package io.resilientkvm.exporter.server;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.tls.PinnedTrust;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backup server's requests: {@code /v1/health}, the bearer token (its 401s held back by
 * {@link AuthBackoff}), the repository paths of complete backups under the root, and single
 * byte ranges streamed through a fixed buffer.
 */
final class BackupRequestHandler extends Handler.Abstract {
    private static final Logger LOG = LoggerFactory.getLogger(BackupServer.class);
    private static final int BUFFER = 1 << 20;
    private static final Pattern RANGE = Pattern.compile("bytes=([0-9]{1,18})-([0-9]{0,18})");
    private static final String BEARER = "bearer ";

    private final Path root;
    private final ClientTokens tokens;
    private final PinnedTrust clients;
    private final ConnectionGuard guard;
    private final AuthBackoff backoff;

    BackupRequestHandler(Path root, ClientTokens tokens, PinnedTrust clients, ConnectionGuard guard, AuthBackoff backoff) {
        this.root = root;
        this.tokens = tokens;
        this.clients = clients;
        this.guard = guard;
        this.backoff = backoff;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        SocketAddress remote = request.getConnectionMetaData().getRemoteSocketAddress();
        guard.requestStarted(remote);
        Request.addCompletionListener(request, failure -> guard.requestEnded(remote));
        try {
            respond(request, response, callback);
        } catch (IOException e) {
            // Usually the client went away mid-transfer; it resumes with a Range.
            LOG.debug("Backup server: {} {} ended early: {}", request.getMethod(),
                    AccessLog.printable(request.getHttpURI().getPathQuery()), e.toString());
            callback.failed(e);
        } catch (RuntimeException e) {
            LOG.error("Backup server: {} {} failed", request.getMethod(), AccessLog.printable(request.getHttpURI().getPathQuery()), e);
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
        Optional<String> caller = caller(request);
        request.setAttribute(AccessLog.NODE, caller.orElse(ClientTokens.UNKNOWN));
        if (plain && BackupPaths.HEALTH.equals(raw)) {
            text(request, response, callback, 200, "ok");
            return;
        }
        ClientTokens.Verdict verdict = tokens.check(caller, bearer(request));
        request.setAttribute(AccessLog.NODE, verdict.node());
        if (!verdict.accepted()) {
            refuse(request, response, callback, verdict.node());
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
    private void refuse(Request request, Response response, Callback callback, String node) {
        String message = "a valid bearer token is required (caller: " + node + ")";
        // The reason in the header too (RFC 6750): a client reads it before deciding to skip the body.
        response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer realm=\"resilient-kvm\", error=\"invalid_token\", "
                + "error_description=\"" + message + "\"");
        InetAddress from = request.getConnectionMetaData().getRemoteSocketAddress() instanceof InetSocketAddress a
                ? a.getAddress() : null;
        Duration hold = from == null ? Duration.ZERO : backoff.failed(from);
        if (hold.isZero()) {
            text(request, response, callback, 401, message);
            return;
        }
        if (hold.compareTo(AuthBackoff.FIRST) == 0 || hold.compareTo(backoff.hold(backoff.failures(from) - 1)) > 0) {
            LOG.warn("Backup server: {} failed authentications from {}: its 401s are held back {} ms now "
                    + "(backup-server.limits.auth-failures-before-backoff, auth-backoff-max-ms)",
                    backoff.failures(from), from.getHostAddress(), hold.toMillis());
        }
        request.getComponents().getScheduler().schedule(
                () -> text(request, response, callback, 401, message),
                hold.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The bearer token sent, or null when there is none. */
    private static byte[] bearer(Request request) {
        String header = request.getHeaders().get(HttpHeader.AUTHORIZATION);
        if (header == null || header.length() <= BEARER.length()
                || !header.substring(0, BEARER.length()).toLowerCase(Locale.ROOT).equals(BEARER)) {
            return null;
        }
        return header.substring(BEARER.length()).strip().getBytes(StandardCharsets.UTF_8);
    }

    /** The node whose pinned certificate the client presented (TLS with a client certificate), else empty. */
    private Optional<String> caller(Request request) {
        EndPoint.SslSessionData tls = request.getConnectionMetaData().getConnection().getEndPoint().getSslSessionData();
        X509Certificate[] chain = tls == null ? null : tls.peerCertificates();
        return chain == null || chain.length == 0 ? Optional.empty() : clients.nodeOf(chain[0]);
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
}

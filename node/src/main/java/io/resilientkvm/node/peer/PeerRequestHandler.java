package io.resilientkvm.node.peer;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.resilientkvm.engine.tls.PinnedTrust;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every request of the peer channel: who calls (the node its client certificate is pinned for),
 * the per-caller limits, the request deadline, the body cap, then the registered endpoint. A
 * connection only gets here after a handshake with a pinned client certificate; the check of
 * the caller below is a second line, not the first.
 */
final class PeerRequestHandler extends Handler.Abstract {
    private static final Logger LOG = LoggerFactory.getLogger(PeerRequestHandler.class);

    /** One registered endpoint. */
    record Route(String method, String path, Class<?> requestType, PeerHandler<Object, ?> handler) {}

    private final String node;
    private final PinnedTrust trust;
    private final Map<String, Route> routes;
    private final CallerLimits limits;
    private final Duration requestTimeout;
    private final int maxBodyBytes;

    PeerRequestHandler(String node, PinnedTrust trust, Map<String, Route> routes, CallerLimits limits, Duration requestTimeout,
            int maxBodyBytes) {
        this.node = node;
        this.trust = trust;
        this.routes = routes;
        this.limits = limits;
        this.requestTimeout = requestTimeout;
        this.maxBodyBytes = maxBodyBytes;
    }

    static String key(String method, String path) {
        return method + " " + path;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        Optional<String> caller = caller(request);
        if (caller.isEmpty()) {
            LOG.warn("Peer channel of {}: a request from {} without a pinned client certificate reached the server: refused",
                    node, request.getConnectionMetaData().getRemoteSocketAddress());
            return answer(request, response, callback, 403, error("a client certificate pinned in peers.* is required"));
        }
        String path = request.getHttpURI().getPath();
        Route route = routes.get(key(request.getMethod(), path));
        if (route == null) {
            boolean otherMethod = routes.values().stream().anyMatch(r -> r.path().equals(path));
            return answer(request, response, callback, otherMethod ? 405 : 404, error(otherMethod
                    ? request.getMethod() + " is not allowed on " + path : "no endpoint " + path + " on the peer channel of " + node));
        }
        Optional<String> limited = limits.tryAcquire(caller.get());
        if (limited.isPresent()) {
            LOG.warn("Peer channel of {}: refused {} {}: {}", node, request.getMethod(), path, limited.get());
            return answer(request, response, callback, 429, error(limited.get()));
        }
        // The whole request (its body and the handler) within the timeout, else its connection is closed.
        Scheduler.Task deadline = request.getComponents().getScheduler().schedule(() -> {
            LOG.warn("Peer channel of {}: {} {} from {} did not complete within {} ms: connection closed", node,
                    request.getMethod(), path, caller.get(), requestTimeout.toMillis());
            request.getConnectionMetaData().getConnection().getEndPoint().close();
        }, requestTimeout.toMillis(), TimeUnit.MILLISECONDS);
        Request.addCompletionListener(request, failure -> {
            deadline.cancel();
            limits.release(caller.get());
        });
        try {
            Object body = null;
            if (route.requestType() != Void.class) {
                Optional<byte[]> bytes = body(request);
                if (bytes.isEmpty()) {
                    return answer(request, response, callback, 413, error("the request body is larger than " + maxBodyBytes
                            + " bytes (the peer channel's cap)"));
                }
                try {
                    body = PeerJson.MAPPER.readValue(bytes.get(), route.requestType());
                } catch (IOException e) {
                    return answer(request, response, callback, 400, error("not a " + route.requestType().getSimpleName()
                            + " in JSON: " + (e instanceof com.fasterxml.jackson.core.JacksonException j ? j.getOriginalMessage() : e.getMessage())));
                }
            }
            Object answer = route.handler().handle(new PeerCaller(caller.get(), remote(request)), body);
            return answer(request, response, callback, 200, answer);
        } catch (PeerRequestException e) {
            return answer(request, response, callback, e.status(), error(e.getMessage()));
        } catch (IOException e) {
            LOG.debug("Peer channel of {}: reading {} {} failed: {}", node, request.getMethod(), path, e.toString());
            callback.failed(e);
            return true;
        } catch (RuntimeException e) {
            LOG.error("Peer channel of {}: {} {} from {} failed", node, request.getMethod(), path, caller.get(), e);
            return answer(request, response, callback, 500, error(path + " failed on " + node + ": " + e.getMessage()));
        }
    }

    private Optional<String> caller(Request request) {
        if (!(request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE) instanceof EndPoint.SslSessionData ssl)) {
            return Optional.empty();
        }
        X509Certificate[] chain = ssl.peerCertificates();
        return chain == null || chain.length == 0 ? Optional.empty() : trust.nodeOf(chain[0]);
    }

    private static InetSocketAddress remote(Request request) {
        return request.getConnectionMetaData().getRemoteSocketAddress() instanceof InetSocketAddress a ? a : null;
    }

    /** The body, or empty when it is larger than the cap (by its Content-Length or as read). */
    private Optional<byte[]> body(Request request) throws IOException {
        long declared = request.getLength();
        if (declared > maxBodyBytes) {
            return Optional.empty();
        }
        try (InputStream in = Content.Source.asInputStream(request)) {
            byte[] bytes = in.readNBytes(maxBodyBytes + 1);
            return bytes.length > maxBodyBytes ? Optional.empty() : Optional.of(bytes);
        }
    }

    private static Map<String, String> error(String message) {
        return Map.of("error", message);
    }

    private boolean answer(Request request, Response response, Callback callback, int status, Object value) {
        byte[] json;
        try {
            json = PeerJson.MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            LOG.error("Peer channel of {}: cannot write the answer to {} as JSON", node, request.getHttpURI().getPath(), e);
            status = 500;
            json = ("{\"error\":\"the answer of " + node + " cannot be written as JSON\"}").getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, PeerJson.CONTENT_TYPE);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, json.length);
        response.write(true, ByteBuffer.wrap(json), callback);
        return true;
    }
}

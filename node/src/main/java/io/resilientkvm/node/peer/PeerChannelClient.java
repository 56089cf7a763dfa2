package io.resilientkvm.node.peer;

import io.resilientkvm.engine.backup.TlsContexts;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.security.cert.CertificateException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls the other nodes' peer channels (see {@code docs/peer-channel.md}): {@code NODE} at
 * {@code peers.NODE.address:peers.NODE.channel-port}, presenting this node's {@code tls} identity
 * and trusting only {@code NODE}'s pinned certificate (a server that is any other node, or no node,
 * is refused at the handshake). Every call is bounded: the connection and its TLS handshake within
 * the connect timeout, then the answer within the request timeout, the whole call within their
 * sum. Calls never throw for what the network or the peer does: they return a {@link PeerResult}.
 * Thread-safe.
 */
public final class PeerChannelClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PeerChannelClient.class);

    private record Target(URI base, HttpClient http) {}

    private final String node;
    private final String instance;
    private final PeerChannelSettings.Limits limits;
    private final Map<String, Target> targets;
    private final ExecutorService executor;
    private final LifecycleState lifecycle;

    private PeerChannelClient(String node, String instance, PeerChannelSettings.Limits limits, Map<String, Target> targets,
            ExecutorService executor) {
        this.node = node;
        this.instance = instance;
        this.limits = limits;
        this.targets = Map.copyOf(targets);
        this.executor = executor;
        this.lifecycle = new LifecycleState("peer channel client of " + node);
        lifecycle.markStarted();
    }

    /** A client for every peer of {@code settings}; an unreadable keystore is bad input. */
    public static PeerChannelClient of(PeerChannelSettings settings) throws BadInputException {
        AtomicInteger count = new AtomicInteger();
        ExecutorService executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "peer-client-" + settings.node() + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        Map<String, Target> targets = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, NodeConfig.Peer> e : settings.peers().entrySet()) {
                String peer = e.getKey();
                HttpClient http = HttpClient.newBuilder()
                        .sslContext(TlsContexts.mutual(settings.identity().keystore(), settings.identity().keystorePasswordFile(),
                                "tls.keystore", settings.trust().only(peer).trustManager()))
                        .connectTimeout(settings.limits().connectTimeout())
                        .version(HttpClient.Version.HTTP_1_1)
                        .followRedirects(HttpClient.Redirect.NEVER)
                        .executor(executor)
                        .build();
                String host = e.getValue().address().contains(":") ? "[" + e.getValue().address() + "]" : e.getValue().address();
                targets.put(peer, new Target(URI.create("https://" + host + ":" + e.getValue().channelPort().orElseThrow()), http));
            }
        } catch (BadInputException | RuntimeException e) {
            executor.shutdownNow();
            throw e;
        }
        return new PeerChannelClient(settings.node(), settings.instance(), settings.limits(), targets, executor);
    }

    /** {@code GET /v1/hello} on {@code peer}: what it says of itself, checked to be that node of this instance. */
    public PeerResult<PeerView> hello(String peer) {
        PeerResult<PeerView> r = get(peer, PeerChannelServer.HELLO, PeerView.class);
        if (r instanceof PeerResult.Answer<PeerView> a) {
            PeerView v = a.value();
            if (!v.node().equals(peer) || !v.instance().equals(instance)) {
                return new PeerResult.Failure<>(peer, PeerResult.Kind.BAD_ANSWER, "peer " + peer + " at " + target(peer).base()
                        + " says it is node " + v.node() + " of instance " + v.instance() + ", not " + peer + " of " + instance
                        + ": check its node and instance settings");
            }
        }
        return r;
    }

    /** {@code GET path} on {@code peer}, its answer read as {@code answerType}. */
    public <A> PeerResult<A> get(String peer, String path, Class<A> answerType) {
        return call(peer, "GET", path, HttpRequest.BodyPublishers.noBody(), answerType);
    }

    /** {@code POST path} on {@code peer} with {@code body} as JSON, its answer read as {@code answerType}. */
    public <A> PeerResult<A> post(String peer, String path, Object body, Class<A> answerType) {
        byte[] json;
        try {
            json = PeerJson.MAPPER.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot write " + body + " as JSON: " + e.getMessage(), e);
        }
        return call(peer, "POST", path, HttpRequest.BodyPublishers.ofByteArray(json), answerType);
    }

    private Target target(String peer) {
        Target t = targets.get(peer);
        if (t == null) {
            throw new IllegalArgumentException(peer + " is not among the peers of " + node + " (" + targets.keySet() + ")");
        }
        return t;
    }

    private <A> PeerResult<A> call(String peer, String method, String path, HttpRequest.BodyPublisher body, Class<A> answerType) {
        if (lifecycle.isClosed()) {
            throw new IllegalStateException("the peer channel client of " + node + " is closed");
        }
        Target t = target(peer);
        URI uri = t.base().resolve(path);
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(limits.requestTimeout()).method(method, body)
                .header("Content-Type", PeerJson.CONTENT_TYPE).header("Accept", PeerJson.CONTENT_TYPE).build();
        CompletableFuture<HttpResponse<byte[]>> future = t.http().sendAsync(request, info -> new CappedBody(limits.maxBodyBytes()));
        HttpResponse<byte[]> response;
        try {
            // The client's own timeouts end the call first; this bound holds whatever they miss.
            response = future.get(limits.connectTimeout().plus(limits.requestTimeout()).toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            future.cancel(true);
            return failure(peer, PeerResult.Kind.UNREACHABLE, method + " " + uri + ": no answer within "
                    + limits.connectTimeout().plus(limits.requestTimeout()).toMillis()
                    + " ms (the peer channel's connect and request timeouts)");
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            return failure(peer, PeerResult.Kind.UNREACHABLE, method + " " + uri + ": interrupted");
        } catch (ExecutionException e) {
            return failed(peer, method + " " + uri, e.getCause());
        }
        int status = response.statusCode();
        if (status >= 200 && status < 300) {
            try {
                A answer = PeerJson.MAPPER.readValue(response.body(), answerType);
                if (answer == null) {
                    return failure(peer, PeerResult.Kind.BAD_ANSWER, method + " " + uri + ": an empty answer, not a "
                            + answerType.getSimpleName());
                }
                return new PeerResult.Answer<>(peer, answer);
            } catch (IOException e) {
                return failure(peer, PeerResult.Kind.BAD_ANSWER, method + " " + uri + ": not a " + answerType.getSimpleName()
                        + " in JSON (" + e.getMessage() + ")");
            }
        }
        String said = errorOf(response.body());
        return failure(peer, status >= 400 && status < 500 ? PeerResult.Kind.REFUSED : PeerResult.Kind.BAD_ANSWER,
                method + " " + uri + ": " + peer + " answered " + status + (said.isEmpty() ? "" : ": " + said));
    }

    /** Names what went wrong below HTTP: no connection, a refused certificate on either side, or a broken answer. */
    private <A> PeerResult<A> failed(String peer, String call, Throwable cause) {
        CertificateException pinned = find(cause, CertificateException.class);
        if (pinned != null) {
            return failure(peer, PeerResult.Kind.REFUSED, call + ": refused " + peer + ": " + pinned.getMessage()
                    + " (this node pins " + peer + " by peers." + peer + ".certificate or peers." + peer + ".fingerprint: a"
                    + " different node, or one with a new certificate, answers there)");
        }
        if (find(cause, SSLException.class) != null) {
            return failure(peer, PeerResult.Kind.REFUSED, call + ": " + peer + " refused this node's certificate at the TLS"
                    + " handshake (" + cause.getMessage() + "); check that peers." + node + " on " + peer + " pins this node's"
                    + " tls certificate");
        }
        if (cause instanceof CappedBody.TooLarge) {
            return failure(peer, PeerResult.Kind.BAD_ANSWER, call + ": " + cause.getMessage());
        }
        if (cause instanceof HttpConnectTimeoutException) {
            return failure(peer, PeerResult.Kind.UNREACHABLE, call + ": no connection and TLS handshake within "
                    + limits.connectTimeout().toMillis() + " ms (the peer channel's connect timeout)");
        }
        if (find(cause, ConnectException.class) != null) {
            return failure(peer, PeerResult.Kind.UNREACHABLE, call + ": cannot connect (" + cause.getMessage()
                    + "); is " + peer + "'s agent running with its peer channel on that port?");
        }
        if (cause instanceof java.net.http.HttpTimeoutException) {
            return failure(peer, PeerResult.Kind.UNREACHABLE, call + ": no answer within "
                    + limits.requestTimeout().toMillis() + " ms (the peer channel's request timeout)");
        }
        return failure(peer, PeerResult.Kind.UNREACHABLE, call + ": the connection failed (" + cause + ")");
    }

    private static <T extends Throwable> T find(Throwable t, Class<T> type) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (type.isInstance(c)) {
                return type.cast(c);
            }
        }
        return null;
    }

    private static String errorOf(byte[] body) {
        try {
            return PeerJson.MAPPER.readTree(body).path("error").asText("");
        } catch (IOException e) {
            return "";
        }
    }

    private static <A> PeerResult<A> failure(String peer, PeerResult.Kind kind, String message) {
        LOG.debug("Peer channel call to {} failed ({}): {}", peer, kind, message);
        return new PeerResult.Failure<>(peer, kind, message);
    }

    /** Stops the client's threads; later calls do nothing. */
    @Override
    public void close() {
        if (lifecycle.markClosed()) {
            executor.shutdownNow();
        }
    }

    /** An answer body read into memory up to a cap; a larger one fails the call. */
    private static final class CappedBody implements HttpResponse.BodySubscriber<byte[]> {
        static final class TooLarge extends IOException {
            private static final long serialVersionUID = 1L;

            TooLarge(int cap) {
                super("the answer is larger than " + cap + " bytes (the peer channel's cap)");
            }
        }

        private final int cap;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final CompletableFuture<byte[]> body = new CompletableFuture<>();
        private Flow.Subscription subscription;

        CappedBody(int cap) {
            this.cap = cap;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return body;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            for (ByteBuffer b : items) {
                if (out.size() + b.remaining() > cap) {
                    subscription.cancel();
                    body.completeExceptionally(new TooLarge(cap));
                    return;
                }
                byte[] chunk = new byte[b.remaining()];
                b.get(chunk);
                out.writeBytes(chunk);
            }
        }

        @Override
        public void onError(Throwable t) {
            body.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            body.complete(out.toByteArray());
        }
    }
}

package io.resilientkvm.exporter.server;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.SocketChannelEndPoint;
import org.eclipse.jetty.io.ssl.SslHandshakeListener;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backup server's per-client limits that Jetty does not have: at most {@code perAddress}
 * open connections per client address (one more is closed as soon as it opens), and a complete
 * request head within {@code requestTimeout} of the connection opening or of its previous
 * response (a client dripping header bytes is closed; Jetty's idle timeout only sees that bytes
 * still move). Jetty reads request heads without blocking a thread, so what these limits protect
 * is sockets and the per-address share, not threads.
 *
 * <p>A Jetty {@link Connection.Listener} on the connector: it sees the network-level connection
 * of every socket (for TLS, the TLS connection; the HTTP one above it has another end point).
 * The server tells it when a request reaches the handler and when its response is complete.
 */
final class ConnectionGuard extends AbstractLifeCycle implements Connection.Listener {
    private static final Logger LOG = LoggerFactory.getLogger(ConnectionGuard.class);
    /** One warning per address and limit in this interval; the others are counted in the next. */
    private static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final int perAddress;
    private final long requestTimeoutNanos;
    private final LongSupplier nanoTime;
    /** By connection (a closed socket no longer tells its remote address) and by remote socket (the handler's key). */
    private final Map<Connection, Tracked> open = new ConcurrentHashMap<>();
    private final Map<SocketAddress, Tracked> byRemote = new ConcurrentHashMap<>();
    private final Map<InetAddress, Integer> perAddressCount = new ConcurrentHashMap<>();
    private final Map<String, long[]> lastWarned = new ConcurrentHashMap<>();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong timedOut = new AtomicLong();
    private ScheduledExecutorService sweeper;

    /** One admitted connection: how many of its requests are in the handler, and since when it waits. */
    private static final class Tracked {
        final Connection connection;
        final SocketAddress remote;
        final InetAddress address;
        final AtomicInteger active = new AtomicInteger();
        volatile long waitingSince;

        Tracked(Connection connection, InetSocketAddress remote, long now) {
            this.connection = connection;
            this.remote = remote;
            this.address = remote.getAddress();
            this.waitingSince = now;
        }
    }

    ConnectionGuard(int perAddress, Duration requestTimeout, LongSupplier nanoTime) {
        if (perAddress < 1) {
            throw new IllegalArgumentException("connections per address must be at least 1, not " + perAddress);
        }
        this.perAddress = perAddress;
        this.requestTimeoutNanos = requestTimeout.toNanos();
        this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
    }

    @Override
    protected void doStart() {
        sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "backup-server-guard");
            t.setDaemon(true);
            return t;
        });
        // A quarter of the limit: a dripping client is closed at most 25 % after its deadline.
        long period = Math.max(TimeUnit.MILLISECONDS.toNanos(50), requestTimeoutNanos / 4);
        sweeper.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.NANOSECONDS);
    }

    @Override
    protected void doStop() {
        sweeper.shutdownNow();
    }

    @Override
    public void onOpened(Connection connection) {
        EndPoint ep = connection.getEndPoint();
        if (!(ep instanceof SocketChannelEndPoint) || !(ep.getRemoteSocketAddress() instanceof InetSocketAddress remote)) {
            return;
        }
        InetAddress address = remote.getAddress();
        boolean[] admitted = new boolean[1];
        perAddressCount.compute(address, (a, n) -> {
            int current = n == null ? 0 : n;
            admitted[0] = current < perAddress;
            return admitted[0] ? current + 1 : n;
        });
        if (!admitted[0]) {
            refused.incrementAndGet();
            warn(address, "connections-per-address", "Backup server: closed a new connection from {}: it already "
                    + "holds {} (backup-server.limits.connections-per-address){}", perAddress);
            ep.close();
            return;
        }
        Tracked t = new Tracked(connection, remote, nanoTime.getAsLong());
        open.put(connection, t);
        byRemote.put(remote, t);
    }

    @Override
    public void onClosed(Connection connection) {
        Tracked t = open.remove(connection);
        if (t != null) {
            byRemote.remove(t.remote, t);
            perAddressCount.computeIfPresent(t.address, (a, n) -> n <= 1 ? null : n - 1);
        }
    }

    /** A request from {@code remote} reached the handler: its head is complete. */
    void requestStarted(SocketAddress remote) {
        Tracked t = byRemote.get(remote);
        if (t != null) {
            t.active.incrementAndGet();
        }
    }

    /** The response to a request from {@code remote} is complete: the next head is due from now. */
    void requestEnded(SocketAddress remote) {
        Tracked t = byRemote.get(remote);
        if (t != null) {
            t.waitingSince = nanoTime.getAsLong();
            t.active.updateAndGet(n -> Math.max(0, n - 1));
        }
    }

    /** Connections open now from {@code address}. */
    int openFrom(InetAddress address) {
        return perAddressCount.getOrDefault(address, 0);
    }

    /** Connections closed at once because their address held too many, since start. */
    long refusedCount() {
        return refused.get();
    }

    /** Connections closed because their request head did not come in time, since start. */
    long timedOutCount() {
        return timedOut.get();
    }

    /** Closes every connection that has waited longer than the request time limit for a complete head. */
    void sweep() {
        long now = nanoTime.getAsLong();
        for (Tracked t : open.values()) {
            if (t.active.get() == 0 && now - t.waitingSince > requestTimeoutNanos) {
                timedOut.incrementAndGet();
                warn(t.address, "request-timeout", "Backup server: closed a connection from {}: no complete request "
                        + "within {} ms (backup-server.limits.request-timeout-ms){}",
                        TimeUnit.NANOSECONDS.toMillis(requestTimeoutNanos));
                t.connection.getEndPoint().close();
            }
        }
    }

    /**
     * Logs a failed TLS handshake (a client certificate that is not pinned, none at all, a client
     * not trusting ours) with the reason, at most once per interval and address.
     */
    SslHandshakeListener handshakeListener() {
        return new SslHandshakeListener() {
            @Override
            public void handshakeFailed(Event event, Throwable failure) {
                if (!(event.getEndPoint().getRemoteSocketAddress() instanceof InetSocketAddress remote)) {
                    return;
                }
                Optional<String> refused = certificateRefusal(failure);
                if (refused.isPresent()) {
                    warn(remote.getAddress(), "tls", "Backup server: refused a TLS connection from {}: {}{}", refused.get());
                } else {
                    // Often a clone that does not trust this server's certificate and hung up.
                    warn(remote.getAddress(), "tls", "Backup server: a TLS handshake from {} failed ({}); if it is a clone, "
                            + "check that it pins this node's tls certificate{}", String.valueOf(failure.getMessage()));
                }
            }
        };
    }

    /** The trust manager's message when it refused the client's certificate (or its absence), else empty. */
    private static Optional<String> certificateRefusal(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof java.security.cert.CertificateException) {
                return Optional.of(t.getMessage());
            }
        }
        String m = String.valueOf(failure.getMessage());
        return m.contains("Empty client certificate chain") || m.contains("certificate_required")
                ? Optional.of("it presented no client certificate; every clone presents its tls identity") : Optional.empty();
    }

    /** Logs a limit hit at most once per interval and address, counting the ones left out. */
    private void warn(InetAddress address, String limit, String format, Object value) {
        long now = nanoTime.getAsLong();
        long[] state = lastWarned.computeIfAbsent(limit + " " + address.getHostAddress(), k -> new long[] {now - LOG_INTERVAL_NANOS - 1, 0});
        String more;
        synchronized (state) {
            if (now - state[0] <= LOG_INTERVAL_NANOS) {
                state[1]++;
                return;
            }
            more = state[1] == 0 ? "" : " (and " + state[1] + " more in the last " + (now - state[0]) / 1_000_000_000L + " s)";
            state[0] = now;
            state[1] = 0;
        }
        if (lastWarned.size() > AuthBackoff.MAX_ADDRESSES) {
            lastWarned.values().removeIf(s -> now - s[0] > LOG_INTERVAL_NANOS);
        }
        LOG.warn(format, address.getHostAddress(), value, more);
    }
}

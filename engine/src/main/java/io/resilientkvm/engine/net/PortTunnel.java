package io.resilientkvm.engine.net;

import io.resilientkvm.engine.error.OperationFailedException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Relays TCP connections from one listen address to a target address: the IPv6 side of the NAT
 * port forwards, which QEMU 7.2's user network cannot listen on (the seed system runs a separate
 * tunnel process for the same reason). Bytes are copied through a small buffer per direction.
 */
public final class PortTunnel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PortTunnel.class);
    private static final int BUFFER = 16 * 1024;
    private static final int CONNECT_TIMEOUT_MS = 10_000;

    private final ServerSocket server;
    private final InetSocketAddress target;
    private final ExecutorService pool;
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();

    private PortTunnel(ServerSocket server, InetSocketAddress target, ExecutorService pool) {
        this.server = server;
        this.target = target;
        this.pool = pool;
    }

    /** Listens on {@code listen} and relays every connection to {@code target}. */
    public static PortTunnel start(InetSocketAddress listen, InetSocketAddress target) throws OperationFailedException {
        ServerSocket server;
        try {
            server = new ServerSocket();
            server.setReuseAddress(true);
            server.bind(listen, 64);
        } catch (IOException e) {
            throw new OperationFailedException("cannot listen on " + listen + " to forward to " + target + ": " + e.getMessage()
                    + "; check network.ipv6 in the node configuration (empty disables IPv6 forwards)", e);
        }
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "tunnel-" + listen.getPort());
            t.setDaemon(true);
            return t;
        });
        PortTunnel tunnel = new PortTunnel(server, target, pool);
        pool.execute(tunnel::acceptLoop);
        LOG.info("Forwarding {} to {}", listen, target);
        return tunnel;
    }

    public InetSocketAddress listenAddress() {
        return (InetSocketAddress) server.getLocalSocketAddress();
    }

    private void acceptLoop() {
        while (!closed.get()) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                if (!closed.get()) {
                    LOG.warn("Tunnel to {} stopped accepting: {}", target, e.getMessage());
                }
                return;
            }
            pool.execute(() -> relay(client));
        }
    }

    private void relay(Socket client) {
        open.add(client);
        Socket upstream = new Socket();
        try {
            upstream.connect(target, CONNECT_TIMEOUT_MS);
        } catch (IOException e) {
            LOG.debug("Tunnel connection to {} failed: {}", target, e.getMessage());
            closeQuietly(client);
            closeQuietly(upstream);
            open.remove(client);
            return;
        }
        open.add(upstream);
        // Each direction ends on its own (half-close); the last one to end closes both sockets.
        AtomicInteger directions = new AtomicInteger(2);
        Runnable ended = () -> {
            if (directions.decrementAndGet() == 0) {
                closeQuietly(client);
                closeQuietly(upstream);
                open.remove(client);
                open.remove(upstream);
            }
        };
        pool.execute(() -> {
            copy(upstream, client);
            ended.run();
        });
        copy(client, upstream);
        ended.run();
    }

    /** Copies until end of stream, then half-closes the other side so each direction ends on its own. */
    private void copy(Socket from, Socket to) {
        byte[] buffer = new byte[BUFFER];
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            int n;
            while ((n = in.read(buffer)) >= 0) {
                out.write(buffer, 0, n);
                out.flush();
            }
            to.shutdownOutput();
        } catch (SocketException e) {
            closeQuietly(to);
        } catch (IOException e) {
            LOG.debug("Tunnel copy ended: {}", e.getMessage());
            closeQuietly(to);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closing is all we wanted
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        closeQuietly(server);
        open.forEach(PortTunnel::closeQuietly);
        pool.shutdownNow();
        try {
            pool.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(ServerSocket s) {
        try {
            s.close();
        } catch (IOException e) {
            // closing is all we wanted
        }
    }
}

package io.resilientkvm.importer.transfer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real TCP proxy in front of the backup server that injects one network fault: it either
 * cuts its first connection after {@code cutAfter} response bytes, or flips one response byte
 * at {@code corruptAt} once. It records what the client sent (the request heads).
 */
final class FaultyProxy implements AutoCloseable {
    private final ServerSocket listener;
    private final int targetPort;
    private final long cutAfter;
    private final long corruptAt;
    private final boolean stall;
    private final java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicBoolean corrupted = new AtomicBoolean();
    private final List<StringBuilder> sent = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    private FaultyProxy(int targetPort, long cutAfter, long corruptAt) throws IOException {
        this(targetPort, cutAfter, corruptAt, false);
    }

    private FaultyProxy(int targetPort, long cutAfter, long corruptAt, boolean stall) throws IOException {
        this.stall = stall;
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.targetPort = targetPort;
        this.cutAfter = cutAfter;
        this.corruptAt = corruptAt;
        this.acceptor = new Thread(this::accept, "faulty-proxy");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    static FaultyProxy cuttingFirstConnectionAfter(int targetPort, long bytes) throws IOException {
        return new FaultyProxy(targetPort, bytes, -1);
    }

    /** Forwards {@code bytes} of the first response, then sends nothing more (the connection stays open). */
    static FaultyProxy stallingFirstConnectionAfter(int targetPort, long bytes) throws IOException {
        return new FaultyProxy(targetPort, bytes, -1, true);
    }

    static FaultyProxy corruptingOnceAt(int targetPort, long offset) throws IOException {
        return new FaultyProxy(targetPort, -1, offset);
    }

    int port() {
        return listener.getLocalPort();
    }

    int connections() {
        return connections.get();
    }

    /** Everything clients sent, one string per connection. */
    List<String> requests() {
        return sent.stream().map(StringBuilder::toString).toList();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket(InetAddress.getLoopbackAddress(), targetPort);
                sockets.add(client);
                sockets.add(server);
                int n = connections.incrementAndGet();
                StringBuilder log = new StringBuilder();
                sent.add(log);
                Thread up = new Thread(() -> upstream(client, server, log), "proxy-up-" + n);
                Thread down = new Thread(() -> downstream(server, client, n == 1), "proxy-down-" + n);
                up.setDaemon(true);
                down.setDaemon(true);
                up.start();
                down.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private static void upstream(Socket client, Socket server, StringBuilder log) {
        byte[] buf = new byte[8192];
        try (InputStream in = client.getInputStream(); OutputStream out = server.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                synchronized (log) {
                    log.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                }
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // one side closed
        } finally {
            closeQuietly(client);
            closeQuietly(server);
        }
    }

    private void downstream(Socket server, Socket client, boolean first) {
        byte[] buf = new byte[64 * 1024];
        long pos = 0;
        try (InputStream in = server.getInputStream(); OutputStream out = client.getOutputStream()) {
            int n;
            while ((n = in.read(buf)) >= 0) {
                if (first && cutAfter >= 0 && pos + n >= cutAfter) {
                    out.write(buf, 0, (int) (cutAfter - pos));
                    out.flush();
                    if (stall) {
                        // Silent but open, like a peer that vanished without a FIN; until the test ends.
                        closed.await(5, java.util.concurrent.TimeUnit.MINUTES);
                    }
                    return; // the finally block cuts both sides mid-body
                }
                if (corruptAt >= 0 && pos <= corruptAt && corruptAt < pos + n && corrupted.compareAndSet(false, true)) {
                    buf[(int) (corruptAt - pos)] ^= 0x01;
                }
                out.write(buf, 0, n);
                out.flush();
                pos += n;
            }
        } catch (IOException e) {
            // one side closed
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            closeQuietly(client);
            closeQuietly(server);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException e) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        closed.countDown();
        listener.close();
        for (Socket s : sockets) {
            closeQuietly(s);
        }
    }
}

package io.resilientkvm.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A TCP relay in front of an HTTP server that, while stalling, passes only the first
 * {@code stallAfter} bytes of each response and then holds the connection open without sending
 * more, like a transfer caught mid-way. {@link #release()} lets every connection go on.
 */
final class StallingProxy implements AutoCloseable {
    private final ServerSocket server;
    private final int target;
    private final long stallAfter;
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final CountDownLatch released = new CountDownLatch(1);
    private final AtomicBoolean stalled = new AtomicBoolean();

    StallingProxy(int targetPort, long stallAfter) throws IOException {
        this.target = targetPort;
        this.stallAfter = stallAfter;
        this.server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread t = new Thread(this::accept, "stalling-proxy-accept");
        t.setDaemon(true);
        t.start();
    }

    int port() {
        return server.getLocalPort();
    }

    /** True once a response was held at {@code stallAfter} bytes. */
    boolean stalled() {
        return stalled.get();
    }

    /** From now on every connection relays everything. */
    void release() {
        released.countDown();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
                sockets.add(client);
                sockets.add(upstream);
                relay(client.getInputStream(), upstream.getOutputStream(), Long.MAX_VALUE);
                relay(upstream.getInputStream(), client.getOutputStream(), stallAfter);
            } catch (IOException e) {
                // closed
            }
        }
    }

    private void relay(InputStream in, OutputStream out, long holdAt) {
        Thread t = new Thread(() -> {
            byte[] buf = new byte[64 * 1024];
            long passed = 0;
            try {
                while (true) {
                    int want = buf.length;
                    if (released.getCount() > 0 && passed >= holdAt) {
                        stalled.set(true);
                        if (!released.await(5, TimeUnit.MINUTES)) {
                            return;
                        }
                    }
                    if (released.getCount() > 0) {
                        want = (int) Math.min(want, holdAt - passed);
                    }
                    int n = in.read(buf, 0, want);
                    if (n < 0) {
                        out.close();
                        return;
                    }
                    out.write(buf, 0, n);
                    out.flush();
                    passed += n;
                }
            } catch (IOException e) {
                // one side closed
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "stalling-proxy-relay");
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() throws IOException {
        released.countDown();
        server.close();
        for (Socket s : sockets) {
            s.close();
        }
    }
}

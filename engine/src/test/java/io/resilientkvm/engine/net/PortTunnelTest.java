package io.resilientkvm.engine.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.resilientkvm.engine.error.OperationFailedException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class PortTunnelTest {
    /** An echo server on IPv4 loopback, reached through the tunnel from IPv6 loopback (or IPv4 where the host has no IPv6). */
    @Test
    void relaysBothDirectionsByteForByte() throws Exception {
        ExecutorService pool = Executors.newCachedThreadPool();
        try (ServerSocket echo = new ServerSocket(0, 8, InetAddress.getByName("127.0.0.1"))) {
            pool.execute(() -> {
                try (Socket s = echo.accept(); InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                    in.transferTo(out);
                } catch (Exception e) {
                    // the test's assertions report it
                }
            });
            InetAddress listen = ipv6LoopbackUsable() ? InetAddress.getByName("::1") : InetAddress.getByName("127.0.0.1");
            try (PortTunnel tunnel = PortTunnel.start(new InetSocketAddress(listen, 0), (InetSocketAddress) echo.getLocalSocketAddress());
                    Socket client = new Socket()) {
                client.connect(tunnel.listenAddress(), 5000);
                client.setSoTimeout(10_000);
                byte[] data = new byte[3 << 20];
                new Random(7).nextBytes(data);
                pool.execute(() -> {
                    try {
                        client.getOutputStream().write(data);
                        client.shutdownOutput();
                    } catch (Exception e) {
                        // the read below fails then
                    }
                });
                byte[] back = client.getInputStream().readAllBytes();
                assertEquals(data.length, back.length);
                assertArrayEquals(data, back);
            }
        } finally {
            pool.shutdownNow();
            pool.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void aPortInUseIsAClearError() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            OperationFailedException e = assertThrows(OperationFailedException.class,
                    () -> PortTunnel.start((InetSocketAddress) taken.getLocalSocketAddress(), new InetSocketAddress("127.0.0.1", 1)));
            assertEquals(true, e.getMessage().contains("network.ipv6"), e.getMessage());
        }
    }

    private static boolean ipv6LoopbackUsable() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            return s.getInetAddress() instanceof Inet6Address;
        } catch (Exception e) {
            return false;
        }
    }
}

package io.resilientkvm.engine.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestFileServerTest {
    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void servesTheKeyAndTheDataGivenByTheParameters() throws Exception {
        Path root = dir.resolve("public");
        GuestFileServer.publish(root, "ssh-ed25519 AAAA test@host", "hello vm");
        try (GuestFileServer server = GuestFileServer.start(root, 0)) {
            assertEquals("ssh-ed25519 AAAA test@host", get(server, "/authorized_key").body());
            assertEquals("hello vm", get(server, "/data").body());
            assertEquals(404, get(server, "/missing").statusCode());
        }
        GuestFileServer.publish(root, null, "v2");
        assertFalse(Files.exists(root.resolve("authorized_key")), "a key removed from the parameters is removed from the VM's view");
        assertEquals("v2", Files.readString(root.resolve("data")));
    }

    @Test
    void nothingOutsideTheDocumentRootIsReachable() throws Exception {
        Path root = dir.resolve("public");
        Files.createDirectories(root);
        Files.writeString(dir.resolve("secret"), "do not serve");
        Files.createSymbolicLink(root.resolve("link"), dir.resolve("secret"));
        Files.createDirectories(root.resolve("sub"));
        try (GuestFileServer server = GuestFileServer.start(root, 0)) {
            for (String path : new String[] {"/../secret", "/%2e%2e/secret", "/sub/../../secret", "/link", "/", "/sub"}) {
                String reply = raw(server, path);
                assertTrue(reply.startsWith("HTTP/1.1 404") || reply.startsWith("HTTP/1.1 400"), path + " -> " + reply);
                assertFalse(reply.contains("do not serve"), path);
            }
            assertEquals(405, http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/data"))
                    .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString()).statusCode());
        }
    }

    @Test
    void listensOnLoopbackOnly() throws Exception {
        try (GuestFileServer server = GuestFileServer.start(dir.resolve("public"), 0)) {
            assertTrue(server.address().getAddress().isLoopbackAddress(), server.address().toString());
            for (java.net.NetworkInterface nic : java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
                for (InetAddress a : java.util.Collections.list(nic.getInetAddresses())) {
                    if (a.isLoopbackAddress() || a.isLinkLocalAddress()) {
                        continue;
                    }
                    try (Socket s = new Socket()) {
                        s.connect(new java.net.InetSocketAddress(a, server.port()), 2000);
                        throw new AssertionError("the guest file server answered on " + a);
                    } catch (java.net.ConnectException expected) {
                        // refused: not listening there
                    }
                }
            }
        }
    }

    private HttpResponse<String> get(GuestFileServer server, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** A raw request, so the path reaches the server exactly as written (clients normalize). */
    private static String raw(GuestFileServer server, String path) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
            OutputStream out = s.getOutputStream();
            out.write(("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}

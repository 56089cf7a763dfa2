package io.resilientkvm.engine.secret;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutual TLS on loopback between two nodes' written keystores, each trusting the instance CA
 * through its written truststore (the JDK's PKIX trust manager): the handshake succeeds both ways,
 * names each side, and checks the client's dialled address against the subjectAltName; a
 * certificate of another instance's CA is refused.
 */
class NodeTlsHandshakeTest {
    private static final int TIMEOUT_MS = 10_000;

    @TempDir
    static Path dir;

    static Path out;
    static Path otherOut;

    private final ExecutorService server = Executors.newSingleThreadExecutor();

    @BeforeAll
    static void write() throws Exception {
        out = dir.resolve("out");
        InstanceSecrets.generate(SecretsRequest.of("kvm1", List.of(NodeAddress.parse("node-a=127.0.0.1"),
                NodeAddress.parse("node-b=localhost"), NodeAddress.parse("node-c=198.18.0.3")), 8444, 2281, "/etc/zookeeper/tls", ""),
                Clock.system(ZoneOffset.UTC)).writeTo(out, "--out");
        otherOut = dir.resolve("other");
        InstanceSecrets.generate(SecretsRequest.of("kvm2", List.of(NodeAddress.parse("node-a=127.0.0.1"),
                NodeAddress.parse("node-b=localhost")), 8444, 2281, "/etc/zookeeper/tls", ""), Clock.system(ZoneOffset.UTC))
                .writeTo(otherOut, "--out");
    }

    @AfterEach
    void stop() {
        server.shutdownNow();
    }

    /** The node's identity from {@code NODE/node.p12} and its trust from {@code NODE/ca.p12}. */
    static SSLContext context(Path nodeFolder) throws Exception {
        return WrittenStores.context(nodeFolder.resolve("node.p12"), nodeFolder.resolve("ca.p12"));
    }

    /** Serves one connection with {@code serverFolder}'s identity, client certificate required; answers the client's name. */
    private Future<String> serveOnce(SSLServerSocket listener) {
        return server.submit(() -> {
            try (SSLServerSocket l = listener; SSLSocket s = (SSLSocket) l.accept()) {
                s.setSoTimeout(TIMEOUT_MS);
                s.startHandshake();
                String client = s.getSession().getPeerPrincipal().getName();
                s.getOutputStream().write(1);
                s.getOutputStream().flush();
                return client;
            }
        });
    }

    private static SSLServerSocket listen(Path serverFolder) throws Exception {
        SSLServerSocket l = (SSLServerSocket) context(serverFolder).getServerSocketFactory()
                .createServerSocket(0, 1, InetAddress.getLoopbackAddress());
        l.setNeedClientAuth(true);
        l.setSoTimeout(TIMEOUT_MS);
        return l;
    }

    /** Connects to {@code host}, checking the server's certificate names it (as HTTPS clients do). */
    private static String call(Path clientFolder, String host, int port) throws Exception {
        try (SSLSocket s = (SSLSocket) context(clientFolder).getSocketFactory().createSocket(host, port)) {
            s.setSoTimeout(TIMEOUT_MS);
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            s.setSSLParameters(p);
            s.startHandshake();
            String server = s.getSession().getPeerPrincipal().getName();
            assertEquals(1, s.getInputStream().read(), "the server answers after accepting the client");
            return server;
        }
    }

    @Test
    void twoNodesOfTheInstanceAuthenticateEachOtherBothWays() throws Exception {
        SSLServerSocket a = listen(out.resolve("node-a"));
        Future<String> seenByA = serveOnce(a);
        assertEquals("CN=node-a", call(out.resolve("node-b"), "127.0.0.1", a.getLocalPort()));
        assertEquals("CN=node-b", seenByA.get(TIMEOUT_MS, TimeUnit.MILLISECONDS));

        SSLServerSocket b = listen(out.resolve("node-b"));
        Future<String> seenByB = serveOnce(b);
        assertEquals("CN=node-b", call(out.resolve("node-a"), "localhost", b.getLocalPort()));
        assertEquals("CN=node-a", seenByB.get(TIMEOUT_MS, TimeUnit.MILLISECONDS));
    }

    @Test
    void aServerWhoseCertificateNamesAnotherAddressIsRefusedByTheClient() throws Exception {
        // node-c's certificate says 198.18.0.3; dialled at 127.0.0.1 it is the wrong server.
        SSLServerSocket c = listen(out.resolve("node-c"));
        serveOnce(c);
        SSLHandshakeException e = assertThrows(SSLHandshakeException.class, () -> call(out.resolve("node-a"), "127.0.0.1",
                c.getLocalPort()));
        assertTrue(e.getMessage().contains("127.0.0.1"), e.getMessage());
    }

    @Test
    void aClientCertificateFromAnotherCaIsRefusedByTheServer() throws Exception {
        SSLServerSocket a = listen(out.resolve("node-a"));
        Future<String> seenByA = serveOnce(a);
        // The intruder trusts this instance's CA (so it would accept node-a) but holds another CA's certificate.
        Path intruder = Files.createDirectories(dir.resolve("intruder"));
        Files.copy(otherOut.resolve("node-b/node.p12"), intruder.resolve("node.p12"));
        Files.copy(otherOut.resolve("node-b/node.p12.password"), intruder.resolve("node.p12.password"));
        Files.copy(out.resolve("node-b/ca.p12"), intruder.resolve("ca.p12"));
        Files.copy(out.resolve("node-b/ca.p12.password"), intruder.resolve("ca.p12.password"));
        // TLS 1.3: the client may finish its side before the server rejects it, then sees the alert when it reads.
        assertThrows(java.io.IOException.class, () -> call(intruder, "127.0.0.1", a.getLocalPort()));
        ExecutionException e = assertThrows(ExecutionException.class, () -> seenByA.get(TIMEOUT_MS, TimeUnit.MILLISECONDS));
        assertInstanceOf(SSLHandshakeException.class, e.getCause(), String.valueOf(e.getCause()));
    }

    @Test
    void aServerCertificateFromAnotherCaIsRefusedByTheClient() throws Exception {
        SSLServerSocket foreign = listen(otherOut.resolve("node-a"));
        serveOnce(foreign);
        assertThrows(SSLHandshakeException.class, () -> call(out.resolve("node-b"), "127.0.0.1", foreign.getLocalPort()));
    }
}

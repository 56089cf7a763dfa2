package io.resilientkvm.engine.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.TlsContexts;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.instance.NodeConfig;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pinned trust over real TLS handshakes on loopback: only the configured peers, both ways. */
class PinnedTrustTest {
    @TempDir
    static Path dir;
    static TestCertificates.NodeCert a;
    static TestCertificates.NodeCert b;
    static TestCertificates.NodeCert intruder;

    @BeforeAll
    static void certificates() throws Exception {
        a = TestCertificates.node(dir, "node-a");
        b = TestCertificates.node(dir, "node-b");
        intruder = TestCertificates.node(dir, "intruder");
    }

    private static SSLContext context(TestCertificates.NodeCert self, Map<String, NodeConfig.Peer> peers) throws BadInputException {
        return TlsContexts.mutual(self.keystore(), self.passwordFile(), "tls.keystore", PinnedTrust.of(peers).trustManager());
    }

    /** Runs one mutual-TLS exchange; returns the node the server recognised the client as. */
    private static String handshake(SSLContext server, PinnedTrust serverTrust, SSLContext client) throws Exception {
        try (SSLServerSocket listen = (SSLServerSocket) server.getServerSocketFactory().createServerSocket(0, 1,
                InetAddress.getLoopbackAddress())) {
            listen.setNeedClientAuth(true);
            listen.setSoTimeout(10_000);
            CompletableFuture<String> seen = CompletableFuture.supplyAsync(() -> {
                try (SSLSocket s = (SSLSocket) listen.accept()) {
                    s.setSoTimeout(10_000);
                    s.startHandshake();
                    X509Certificate peer = (X509Certificate) s.getSession().getPeerCertificates()[0];
                    OutputStream out = s.getOutputStream();
                    out.write(1);
                    out.flush();
                    return serverTrust.nodeOf(peer).orElse("?");
                } catch (Exception e) {
                    return "refused: " + e.getMessage();
                }
            });
            try (SSLSocket c = (SSLSocket) client.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(), listen.getLocalPort())) {
                c.setSoTimeout(10_000);
                c.startHandshake();
                InputStream in = c.getInputStream();
                assertEquals(1, in.read());
            } catch (SSLException e) {
                seen.get(10, TimeUnit.SECONDS);
                throw e;
            }
            return seen.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void pinnedNodesRecogniseEachOtherBothWays() throws Exception {
        PinnedTrust aTrusts = PinnedTrust.of(Map.of("node-b", b.asPeer("127.0.0.1")));
        String client = handshake(context(a, Map.of("node-b", b.asPeer("127.0.0.1"))), aTrusts,
                context(b, Map.of("node-a", a.asPeer("127.0.0.1"))));
        assertEquals("node-b", client);
    }

    @Test
    void anUnpinnedClientIsRefusedByTheServer() throws Exception {
        PinnedTrust aTrusts = PinnedTrust.of(Map.of("node-b", b.asPeer("127.0.0.1")));
        // The intruder trusts a (it may have stolen a's certificate); a does not trust the intruder.
        Exception e = assertThrows(Exception.class, () -> handshake(context(a, Map.of("node-b", b.asPeer("127.0.0.1"))), aTrusts,
                context(intruder, Map.of("node-a", a.asPeer("127.0.0.1")))));
        assertTrue(e instanceof SSLException || e instanceof java.net.SocketException, e.toString());
    }

    @Test
    void anUnpinnedServerIsRefusedByTheClientNamingTheCertificate() throws Exception {
        PinnedTrust intruderTrusts = PinnedTrust.of(Map.of("node-b", b.asPeer("127.0.0.1")));
        SSLException e = assertThrows(SSLException.class, () -> handshake(context(intruder, Map.of("node-b", b.asPeer("127.0.0.1"))),
                intruderTrusts, context(b, Map.of("node-a", a.asPeer("127.0.0.1")))));
        assertTrue(e.getMessage().contains("not pinned") || String.valueOf(e.getCause()).contains("not pinned"), e.toString());
    }

    @Test
    void aFingerprintPinsAsTheCertificateDoes() throws Exception {
        Fingerprint f = Fingerprint.of(PinnedTrust.readPem(b.certificate()));
        NodeConfig.Peer byPrint = new NodeConfig.Peer("127.0.0.1", Optional.empty(), Optional.of(f.toString()), Optional.empty(),
                OptionalInt.empty());
        PinnedTrust t = PinnedTrust.of(Map.of("node-b", byPrint));
        assertEquals(Optional.of("node-b"), t.nodeOf(PinnedTrust.readPem(b.certificate())));
        assertEquals(Optional.empty(), t.nodeOf(PinnedTrust.readPem(a.certificate())));
        assertEquals(f, Fingerprint.parse(f.toString().substring("sha256:".length()).replace(":", "").toLowerCase()));
        assertTrue(t.only("node-a").isEmpty());
    }

    @Test
    void badPinsAreRefusedNamingThePeer() throws Exception {
        Path junk = Files.writeString(dir.resolve("junk.crt"), "not a certificate");
        NodeConfig.Peer bad = new NodeConfig.Peer("127.0.0.1", Optional.of(junk), Optional.empty(), Optional.empty(), OptionalInt.empty());
        BadInputException e = assertThrows(BadInputException.class, () -> PinnedTrust.of(Map.of("node-x", bad)));
        assertTrue(e.getMessage().contains("peers.node-x.certificate") && e.getMessage().contains(junk.toString()), e.getMessage());
        BadInputException same = assertThrows(BadInputException.class,
                () -> PinnedTrust.of(Map.of("node-b", b.asPeer("127.0.0.1"), "node-c", b.asPeer("127.0.0.1"))));
        assertTrue(same.getMessage().contains("same certificate"), same.getMessage());
    }
}

package io.resilientkvm.engine.zk;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.apache.zookeeper.client.ConnectStringParser;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.common.ClientX509Util;
import org.apache.zookeeper.common.X509Exception;

/**
 * Says why a client did not connect in time when it is a TLS matter. ZooKeeper's client retries a
 * failed TLS handshake for ever and only logs it, so a client whose truststore does not trust the
 * server, a TLS client on a plain port and a plain client on a secure port all look like a server
 * that does not answer. One handshake with the first server, after the connection timeout, tells
 * them apart: with the client's own TLS configuration (ZooKeeper's X509 code, host name check
 * included), or, for a plain client, with the JVM's default trust (a certificate in answer means
 * the port speaks TLS).
 */
final class ZkTlsProbe {
    private static final Duration MAX_PROBE = Duration.ofSeconds(2);

    private ZkTlsProbe() {
    }

    /** A sentence on what is wrong, or empty when the probe finds nothing TLS-related. */
    static Optional<String> diagnose(String connectString, Optional<ZKClientConfig> tls, Duration connectTimeout) {
        List<InetSocketAddress> servers = new ConnectStringParser(connectString).getServerAddresses();
        if (servers.isEmpty()) {
            return Optional.empty();
        }
        // The parser leaves them unresolved.
        InetSocketAddress server = new InetSocketAddress(servers.get(0).getHostString(), servers.get(0).getPort());
        String where = server.getHostString() + ":" + server.getPort();
        int timeoutMs = (int) Math.min(MAX_PROBE.toMillis(), connectTimeout.toMillis());
        return tls.isPresent() ? diagnoseTls(server, where, tls.get(), timeoutMs) : diagnosePlain(server, where, timeoutMs);
    }

    private static Optional<String> diagnoseTls(InetSocketAddress server, String where, ZKClientConfig config, int timeoutMs) {
        try (ClientX509Util x509 = new ClientX509Util(); CountingSocket plain = new CountingSocket()) {
            plain.connect(server, timeoutMs);
            plain.setSoTimeout(timeoutMs);
            try (SSLSocket socket = (SSLSocket) x509.createSSLContextAndOptions(config).getSSLContext().getSocketFactory()
                    .createSocket(plain, server.getHostString(), server.getPort(), true)) {
                // The name as given in zookeeper.connect, as ZooKeeper's Netty client checks it (not the resolved address).
                SSLParameters parameters = socket.getSSLParameters();
                parameters.setEndpointIdentificationAlgorithm("HTTPS");
                socket.setSSLParameters(parameters);
                try {
                    socket.startHandshake();
                } catch (java.net.SocketException e) {
                    // The server closed while the client sent its last flight (EPIPE, a reset; seen on the bed): it had
                    // answered the handshake, so its certificate was received and trusted; it refused the client's.
                    if (plain.received() > 0) {
                        return Optional.of(clientCertificateRefused(where, e.getMessage()));
                    }
                    throw e;
                }
                return afterHandshake(socket, where);
            }
        } catch (ConnectException e) {
            return Optional.of(refused(where, e));
        } catch (SSLHandshakeException e) {
            if (causedBy(e, CertPathBuilderException.class) || causedBy(e, CertPathValidatorException.class)) {
                return Optional.of("the certificate of ZooKeeper at " + where + " is not trusted by " + ZkTlsStores.TRUSTSTORE + " "
                        + truststore(config) + " (" + e.getMessage()
                        + "): put the CA (or the certificate) of the ZooKeeper servers into that truststore");
            }
            if (causedBy(e, CertificateException.class)) {
                return Optional.of("the certificate of ZooKeeper at " + where + " is refused (" + e.getMessage()
                        + "): it must name the address in zookeeper.connect (a subjectAltName ip: or dns: entry) and be "
                        + "trusted by " + ZkTlsStores.TRUSTSTORE);
            }
            return Optional.of(notTls(where, e));
        } catch (SSLException e) {
            return Optional.of(notTls(where, e));
        } catch (SocketTimeoutException e) {
            return Optional.of("ZooKeeper at " + where + " did not answer a TLS handshake within " + timeoutMs
                    + " ms: is it the secure client port (secureClientPort in zoo.cfg)?");
        } catch (X509Exception e) {
            return Optional.of("the TLS settings in zookeeper.tls do not make a TLS context: " + e.getMessage());
        } catch (IOException e) {
            return Optional.of("cannot open a TLS connection to " + where + ": " + e);
        }
    }

    /**
     * TLS 1.3: the server judges the client certificate after the client's last flight, so a
     * refusal arrives as an alert on the first read; a server that accepts it waits for the
     * session request, and the read times out.
     */
    private static Optional<String> afterHandshake(SSLSocket socket, String where) {
        try {
            // End of stream: the server closed the connection after judging the certificate, without an alert.
            return socket.getInputStream().read() < 0 ? Optional.of(clientCertificateRefused(where, "closed at once"))
                    : Optional.empty();
        } catch (SocketTimeoutException e) {
            return Optional.empty();
        } catch (IOException e) {
            // The alert, or the server's close racing with the client's last write (EPIPE, a reset): the same refusal.
            return Optional.of(clientCertificateRefused(where, e.getMessage()));
        }
    }

    /**
     * The plain socket under the TLS one, counting what the server sent: a server that answered
     * the handshake (its certificate, which this client checks before it sends its own) and then
     * closed on the client's last flight refused the client's certificate; a plain port sends
     * nothing TLS-shaped first. The JDK's handshake session is gone once the handshake failed.
     */
    private static final class CountingSocket extends Socket {
        private final java.util.concurrent.atomic.AtomicLong received = new java.util.concurrent.atomic.AtomicLong();

        long received() {
            return received.get();
        }

        @Override
        public java.io.InputStream getInputStream() throws IOException {
            return new java.io.FilterInputStream(super.getInputStream()) {
                @Override
                public int read() throws IOException {
                    int b = super.read();
                    if (b >= 0) {
                        received.incrementAndGet();
                    }
                    return b;
                }

                @Override
                public int read(byte[] buffer, int offset, int length) throws IOException {
                    int n = super.read(buffer, offset, length);
                    if (n > 0) {
                        received.addAndGet(n);
                    }
                    return n;
                }
            };
        }
    }

    private static String clientCertificateRefused(String where, String detail) {
        return "ZooKeeper at " + where + " refused this node's client certificate (" + detail
                + "): give zookeeper.tls.keystore (or tls.keystore) a certificate the servers' ssl.trustStore trusts";
    }

    private static String refused(String where, ConnectException e) {
        return "nothing accepts connections at " + where + " (" + e.getMessage() + "): check that ZooKeeper runs there and "
                + "that zookeeper.connect in the node configuration is right";
    }

    private static String truststore(ZKClientConfig config) {
        try (ClientX509Util x509 = new ClientX509Util()) {
            return config.getProperty(x509.getSslTruststoreLocationProperty());
        }
    }

    private static String notTls(String where, Exception e) {
        return "ZooKeeper at " + where + " does not speak TLS (" + e.getMessage() + "): zookeeper.tls is set, so "
                + "zookeeper.connect must list the servers' secure client ports (secureClientPort in zoo.cfg), not their "
                + "plain clientPort";
    }

    private static Optional<String> diagnosePlain(InetSocketAddress server, String where, int timeoutMs) {
        try {
            SSLContext trustDefault = SSLContext.getInstance("TLS");
            trustDefault.init(null, null, null);
            try (SSLSocket socket = (SSLSocket) trustDefault.getSocketFactory().createSocket()) {
                socket.connect(server, timeoutMs);
                socket.setSoTimeout(timeoutMs);
                socket.startHandshake();
                return Optional.of(speaksTls(where));
            }
        } catch (ConnectException e) {
            return Optional.of(refused(where, e));
        } catch (SSLHandshakeException e) {
            // A plain server reads the ClientHello as a bad request and closes: no certificate.
            return causedBy(e, CertificateException.class) ? Optional.of(speaksTls(where)) : Optional.empty();
        } catch (IOException | GeneralSecurityException e) {
            return Optional.empty();
        }
    }

    private static String speaksTls(String where) {
        return "ZooKeeper at " + where + " is a TLS port (it answered a TLS handshake with a certificate): set zookeeper.tls "
                + "in the node configuration (a truststore for the servers' certificates), or point zookeeper.connect at the "
                + "plain clientPort";
    }

    private static boolean causedBy(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }
}

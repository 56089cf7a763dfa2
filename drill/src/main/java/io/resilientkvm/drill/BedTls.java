package io.resilientkvm.drill;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.secret.SecretFiles;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * The drill's look at a listener on the bed: a TLS handshake from the operator host, trusting the
 * instance CA and presenting no certificate, which records the certificate the server shows. The
 * servers that require a pinned client certificate refuse the handshake afterwards (and log it):
 * what counts is that they speak TLS with the expected identity.
 */
final class BedTls {
    private final X509TrustManager ca;

    private BedTls(X509TrustManager ca) {
        this.ca = ca;
    }

    /** Trusting the CA of the PKCS12 {@code truststore}. */
    static BedTls trusting(Path truststore, Path passwordFile) throws BadInputException, IOException {
        char[] password = SecretFiles.readSecret(passwordFile, "the bed's truststore password").toCharArray();
        try (InputStream in = Files.newInputStream(truststore)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password);
            TrustManagerFactory f = TrustManagerFactory.getInstance("PKIX");
            f.init(ks);
            for (TrustManager t : f.getTrustManagers()) {
                if (t instanceof X509TrustManager x) {
                    return new BedTls(x);
                }
            }
            throw new IOException("no X.509 trust manager for " + truststore);
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot read the truststore " + truststore + ": " + e.getMessage(), e);
        }
    }

    /**
     * The subject of the CA-signed certificate {@code host:port} shows in a TLS handshake (within
     * 5 s), or what went wrong instead, starting with "no TLS".
     */
    String subject(String host, int port) {
        AtomicReference<X509Certificate> seen = new AtomicReference<>();
        X509TrustManager recording = new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                throw new CertificateException("the drill's probe is a client only");
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
                ca.checkServerTrusted(chain, authType);
                seen.set(chain[0]);
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return ca.getAcceptedIssuers();
            }
        };
        try {
            SSLContext tls = SSLContext.getInstance("TLS");
            tls.init(null, new TrustManager[] {recording}, null);
            try (SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket()) {
                s.connect(new InetSocketAddress(host, port), 5000);
                s.setSoTimeout(5000);
                s.startHandshake();
            } catch (IOException e) {
                // Refused after the server showed its certificate: expected where a pinned client certificate is needed.
                if (seen.get() == null) {
                    return "no TLS at " + host + ":" + port + ": " + e.getMessage();
                }
            }
        } catch (GeneralSecurityException e) {
            return "no TLS at " + host + ":" + port + ": " + e.getMessage();
        }
        return seen.get() == null ? "no TLS at " + host + ":" + port + ": no certificate shown"
                : seen.get().getSubjectX500Principal().getName();
    }
}

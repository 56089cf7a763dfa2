package io.resilientkvm.importer.transfer;

import java.io.IOException;
import java.security.cert.CertificateException;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import javax.net.ssl.SSLException;

/**
 * A TLS failure that no retry can mend: the main's certificate is not the trusted one, or the
 * main refused this clone's certificate. Told apart from a connection cut during the handshake
 * (which is retried) by the trust manager's exception in the chain, or by the alert the main sent.
 */
final class TlsRefusal {
    /** Alerts a server sends when it does not accept the client's certificate. */
    private static final Set<String> CLIENT_REFUSED = Set.of("bad_certificate", "certificate_unknown", "unknown_ca",
            "certificate_required", "access_denied", "certificate_expired", "certificate_revoked", "unsupported_certificate");

    private TlsRefusal() {
    }

    /** What to tell the operator when {@code e} is such a refusal, else empty. */
    static Optional<String> of(IOException e, TransferSettings settings) {
        String main = settings.pinned().map(p -> "the main " + p.node()).orElse("the main");
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CertificateException ce) {
                String check = settings.pinned().map(p -> "check peers." + p.node() + ".certificate / peers." + p.node()
                        + ".fingerprint here against " + p.node() + "'s tls identity (or another host answers at its address)")
                        .orElse(settings.truststore().map(ts -> "check the truststore " + ts)
                                .orElse("pin the main's certificate (peers.MAIN.certificate or fingerprint)"));
                return Optional.of(main + " at " + settings.baseUri() + " is not trusted: " + ce.getMessage() + "; " + check);
            }
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (t instanceof SSLException && m != null && m.startsWith("Received fatal alert: ")
                    && CLIENT_REFUSED.contains(m.substring("Received fatal alert: ".length()).strip().toLowerCase(Locale.ROOT))) {
                return Optional.of(main + " at " + settings.baseUri() + " refused this node's certificate (" + m
                        + "); check that the main pins this node's tls certificate (its peers.THIS-NODE.certificate or fingerprint)"
                        + " and that this node's tls.keystore is that identity");
            }
        }
        return Optional.empty();
    }
}

package io.resilientkvm.engine.secret;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;

/**
 * A certificate's SHA-256 fingerprint in the form {@code peers.NODE.fingerprint} accepts
 * ({@code sha256:AB:CD:...}, over the DER encoding, as {@code openssl x509 -fingerprint -sha256} and
 * {@code keytool -list -v} print it).
 */
public final class Fingerprints {
    private static final HexFormat HEX = HexFormat.ofDelimiter(":").withUpperCase();

    private Fingerprints() {
    }

    /** {@code sha256:} and the 32 bytes of the digest in upper-case hex, colon-separated. */
    public static String sha256(X509Certificate certificate) {
        try {
            return "sha256:" + HEX.formatHex(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
        } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
            // Every JDK has SHA-256, and a certificate we hold has an encoding.
            throw new IllegalStateException("cannot fingerprint " + certificate.getSubjectX500Principal() + ": " + e, e);
        }
    }
}

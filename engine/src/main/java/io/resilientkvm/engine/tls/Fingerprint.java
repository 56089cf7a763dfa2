package io.resilientkvm.engine.tls;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The SHA-256 of a certificate's DER encoding, as {@code peers.NODE.fingerprint} gives it:
 * {@code sha256:AB:CD:...} (the prefix and the colons optional, either case).
 */
public record Fingerprint(byte[] sha256) {
    public Fingerprint {
        if (sha256.length != 32) {
            throw new IllegalArgumentException("a SHA-256 fingerprint has 32 bytes, not " + sha256.length);
        }
        sha256 = sha256.clone();
    }

    /** Parses {@code text}; throws IllegalArgumentException naming what is wrong. */
    public static Fingerprint parse(String text) {
        String hex = text.strip().replaceFirst("(?i)^sha256:", "").replace(":", "");
        if (!hex.matches("[0-9A-Fa-f]{64}")) {
            throw new IllegalArgumentException("not a SHA-256 fingerprint: '" + text
                    + "' (expected 64 hex digits, colons and a sha256: prefix optional)");
        }
        return new Fingerprint(HexFormat.of().parseHex(hex));
    }

    public static Fingerprint of(X509Certificate certificate) {
        try {
            return new Fingerprint(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
        } catch (CertificateEncodingException | NoSuchAlgorithmException e) {
            throw new IllegalStateException("cannot hash certificate " + certificate.getSubjectX500Principal(), e);
        }
    }

    @Override
    public byte[] sha256() {
        return sha256.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Fingerprint f && Arrays.equals(sha256, f.sha256);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(sha256);
    }

    /** {@code sha256:AB:CD:...}, the form the secrets command prints. */
    @Override
    public String toString() {
        return "sha256:" + HexFormat.ofDelimiter(":").formatHex(sha256).toUpperCase(Locale.ROOT);
    }
}

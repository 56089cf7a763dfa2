package io.resilientkvm.engine.secret;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;

/**
 * The file formats the secrets are written in: PKCS12 key and trust stores (the JDK's, so its
 * default protection, AES-256 with PBKDF2 and an HMAC-SHA256 MAC, applies) and PEM certificates.
 */
final class SecretEncodings {
    private SecretEncodings() {
    }

    /** A PKCS12 keystore with one key entry {@code alias}: {@code key} and its chain (leaf first). */
    static byte[] keystore(String alias, PrivateKey key, char[] password, X509Certificate... chain)
            throws GeneralSecurityException {
        KeyStore ks = empty();
        ks.setKeyEntry(alias, key, password, chain);
        return store(ks, password);
    }

    /** A PKCS12 truststore with one trusted certificate entry {@code alias}. */
    static byte[] truststore(String alias, X509Certificate trusted, char[] password) throws GeneralSecurityException {
        KeyStore ks = empty();
        ks.setCertificateEntry(alias, trusted);
        return store(ks, password);
    }

    /** The certificate as a PEM block ({@code -----BEGIN CERTIFICATE-----}). */
    static String pem(Certificate certificate) {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(text)) {
            w.writeObject(certificate);
        } catch (IOException e) {
            throw new UncheckedIOException("a StringWriter does not fail", e);
        }
        return text.toString();
    }

    private static KeyStore empty() throws GeneralSecurityException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try {
            ks.load(null, null);
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot create an empty PKCS12 store: " + e.getMessage(), e);
        }
        return ks;
    }

    private static byte[] store(KeyStore ks, char[] password) throws GeneralSecurityException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ks.store(out, password);
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot encode a PKCS12 store: " + e.getMessage(), e);
        }
        return out.toByteArray();
    }
}

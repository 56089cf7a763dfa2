package io.resilientkvm.engine.backup;

import io.resilientkvm.engine.secret.SecretFiles;
import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * The TLS contexts of the backup server's wire contract (see {@code docs/backup-server.md}):
 * the main serves with the key in a PKCS12 keystore, a clone trusts the certificates in a
 * PKCS12 truststore. Each store's password is read from a file, never from the command line.
 */
public final class TlsContexts {
    private TlsContexts() {}

    /** The backup server's context: its key and certificate from {@code keystore}. */
    public static SSLContext serving(Path keystore, Path passwordFile) throws BadInputException {
        return serving(keystore, passwordFile, "backup-server.keystore");
    }

    /** As {@link #serving(Path, Path)}, naming {@code setting} (e.g. {@code tls.keystore}) in errors. */
    public static SSLContext serving(Path keystore, Path passwordFile, String setting) throws BadInputException {
        return context(keyManagers(keystore, passwordFile, setting), null);
    }

    /**
     * A context presenting this node's key and certificate from {@code keystore} and trusting
     * exactly {@code trust}: both sides of a mutual-TLS connection between nodes.
     *
     * @param setting the configuration key {@code keystore} came from, named in errors (e.g. {@code tls.keystore})
     */
    public static SSLContext mutual(Path keystore, Path passwordFile, String setting, X509ExtendedTrustManager trust)
            throws BadInputException {
        return context(keyManagers(keystore, passwordFile, setting), new TrustManager[] {trust});
    }

    /** The key managers of a PKCS12 keystore whose password is in {@code passwordFile}. */
    public static KeyManager[] keyManagers(Path keystore, Path passwordFile, String setting) throws BadInputException {
        char[] password = SecretFiles.readSecret(passwordFile, setting + "-password-file").toCharArray();
        try {
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(load(keystore, password), password);
            return kmf.getKeyManagers();
        } catch (IOException | GeneralSecurityException e) {
            throw new BadInputException(setting + ": cannot load PKCS12 keystore " + keystore + " ("
                    + e.getMessage() + "); check the file and " + setting + "-password-file", e);
        }
    }

    private static SSLContext context(KeyManager[] keys, TrustManager[] trust) {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(keys, trust, null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JVM has no TLS", e);
        }
    }

    /** A clone's context: trusts the certificates in {@code truststore} (a main with a self-signed one). */
    public static SSLContext trusting(Path truststore, Path passwordFile) throws BadInputException {
        char[] password = SecretFiles.readSecret(passwordFile, "truststore password file").toCharArray();
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(load(truststore, password));
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            return ctx;
        } catch (IOException | GeneralSecurityException e) {
            throw new BadInputException("cannot load truststore " + truststore + " (" + e.getMessage()
                    + "); give a PKCS12 file holding the main's certificate and its password file", e);
        }
    }

    private static KeyStore load(Path store, char[] password) throws IOException, GeneralSecurityException {
        try (InputStream in = Files.newInputStream(store)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password);
            return ks;
        }
    }
}

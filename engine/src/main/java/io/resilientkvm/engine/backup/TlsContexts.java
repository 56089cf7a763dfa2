package io.resilientkvm.engine.backup;

import io.resilientkvm.engine.secret.SecretFiles;
import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The TLS contexts of the backup server's wire contract (see {@code docs/backup-server.md}):
 * the main serves with the key in a PKCS12 keystore, a clone trusts the certificates in a
 * PKCS12 truststore. Each store's password is read from a file, never from the command line.
 */
public final class TlsContexts {
    private TlsContexts() {}

    /** The backup server's context: its key and certificate from {@code keystore}. */
    public static SSLContext serving(Path keystore, Path passwordFile) throws BadInputException {
        char[] password = SecretFiles.readSecret(passwordFile, "backup-server.keystore-password-file").toCharArray();
        try {
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(load(keystore, password), password);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, null);
            return ctx;
        } catch (IOException | GeneralSecurityException e) {
            throw new BadInputException("backup-server.keystore: cannot load PKCS12 keystore " + keystore + " ("
                    + e.getMessage() + "); check the file and backup-server.keystore-password-file", e);
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

package io.resilientkvm.engine.secret;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** Test helper: the PKCS12 stores {@code bin/node secrets} writes, opened with their {@code .password} files. */
public final class WrittenStores {
    private WrittenStores() {
    }

    /** {@code store}, opened with the password in {@code store.password}. */
    public static KeyStore load(Path store) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(store)) {
            ks.load(in, password(store));
        }
        return ks;
    }

    /** Mutual TLS: the identity in {@code keystore}, trust in {@code truststore} (the JDK's PKIX trust manager). */
    public static SSLContext context(Path keystore, Path truststore) throws Exception {
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(load(keystore), password(keystore));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(load(truststore));
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }

    private static char[] password(Path store) throws Exception {
        return SecretFiles.readSecret(store.resolveSibling(store.getFileName() + InstanceSecrets.PASSWORD_SUFFIX), store.toString())
                .toCharArray();
    }
}

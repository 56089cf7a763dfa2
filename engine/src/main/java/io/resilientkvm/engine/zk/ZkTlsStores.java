package io.resilientkvm.engine.zk;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.secret.SecretFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Collections;
import java.util.Objects;
import java.util.Optional;
import org.apache.zookeeper.ClientCnxnSocketNetty;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.common.ClientX509Util;

/**
 * TLS to ZooKeeper's secure client port ({@code zookeeper.tls}): the PKCS12 truststore the servers
 * are trusted under and the optional PKCS12 keystore presented as the client certificate, each
 * with its password file. The names of the settings they came from go into every message.
 *
 * @param keystoreSetting         where the keystore came from: {@code zookeeper.tls.keystore} or {@code tls.keystore}
 * @param keystorePasswordSetting where its password file came from
 */
public record ZkTlsStores(Path truststore, Path truststorePasswordFile, Optional<Path> keystore,
        Optional<Path> keystorePasswordFile, String keystoreSetting, String keystorePasswordSetting) {
    static final String TRUSTSTORE = "zookeeper.tls.truststore";
    static final String TRUSTSTORE_PASSWORD = "zookeeper.tls.truststore-password-file";

    public ZkTlsStores {
        Objects.requireNonNull(truststore, "truststore");
        Objects.requireNonNull(truststorePasswordFile, "truststorePasswordFile");
        Objects.requireNonNull(keystore, "keystore");
        Objects.requireNonNull(keystorePasswordFile, "keystorePasswordFile");
        Objects.requireNonNull(keystoreSetting, "keystoreSetting");
        Objects.requireNonNull(keystorePasswordSetting, "keystorePasswordSetting");
    }

    /** With {@code zookeeper.tls}'s own setting names. */
    public ZkTlsStores(Path truststore, Path truststorePasswordFile, Optional<Path> keystore, Optional<Path> keystorePasswordFile) {
        this(truststore, truststorePasswordFile, keystore, keystorePasswordFile, "zookeeper.tls.keystore",
                "zookeeper.tls.keystore-password-file");
    }

    /**
     * The configuration of one client (never JVM system properties: each client has its own, and no
     * password lands in a system property): the Netty socket, secure, both stores with their
     * passwords, host name verification on. Every TLS property is set, so that the
     * {@code zookeeper.ssl.*} system properties an in-process ZooKeeper server sets cannot leak in.
     *
     * @throws BadInputException a missing or unreadable store or password file, a wrong password,
     *                           a keystore without a key: naming the setting and what to do
     */
    public ZKClientConfig clientConfig() throws BadInputException {
        String trustPassword = SecretFiles.readSecret(truststorePasswordFile, TRUSTSTORE_PASSWORD);
        load(truststore, trustPassword, TRUSTSTORE, TRUSTSTORE_PASSWORD);
        String keyPath = "";
        String keyPassword = "";
        if (keystore.isPresent()) {
            Path passwordFile = keystorePasswordFile.orElseThrow(() -> new BadInputException(keystorePasswordSetting
                    + ": missing; " + keystoreSetting + " " + keystore.get() + " needs the file holding its password"));
            keyPassword = SecretFiles.readSecret(passwordFile, keystorePasswordSetting);
            KeyStore ks = load(keystore.get(), keyPassword, keystoreSetting, keystorePasswordSetting);
            if (!hasKey(ks)) {
                throw new BadInputException(keystoreSetting + ": " + keystore.get() + " holds no private key: give the "
                        + "PKCS12 keystore with this node's key and certificate (the client certificate ZooKeeper checks)");
            }
            keyPath = keystore.get().toString();
        }
        ZKClientConfig config = new ZKClientConfig();
        config.setProperty(ZKClientConfig.ZOOKEEPER_CLIENT_CNXN_SOCKET, ClientCnxnSocketNetty.class.getName());
        config.setProperty(ZKClientConfig.SECURE_CLIENT, "true");
        // No SASL (the identities are digest ones); its server-principal lookup also resolves
        // the server's address back to a name, which the certificate's host check then uses.
        config.setProperty(ZKClientConfig.ENABLE_CLIENT_SASL_KEY, "false");
        try (ClientX509Util x509 = new ClientX509Util()) {
            config.setProperty(x509.getSslTruststoreLocationProperty(), truststore.toString());
            config.setProperty(x509.getSslTruststorePasswdProperty(), trustPassword);
            config.setProperty(x509.getSslTruststorePasswdPathProperty(), "");
            config.setProperty(x509.getSslTruststoreTypeProperty(), "PKCS12");
            config.setProperty(x509.getSslKeystoreLocationProperty(), keyPath);
            config.setProperty(x509.getSslKeystorePasswdProperty(), keyPassword);
            config.setProperty(x509.getSslKeystorePasswdPathProperty(), "");
            config.setProperty(x509.getSslKeystoreTypeProperty(), "PKCS12");
            config.setProperty(x509.getSslHostnameVerificationEnabledProperty(), "true");
        }
        return config;
    }

    private static KeyStore load(Path store, String password, String setting, String passwordSetting) throws BadInputException {
        if (!Files.isRegularFile(store) || !Files.isReadable(store)) {
            throw new BadInputException(setting + ": " + store + " is not a readable file: give the PKCS12 store "
                    + "(see docs/deployment.md, \"ZooKeeper TLS\")");
        }
        try (InputStream in = Files.newInputStream(store)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password.toCharArray());
            return ks;
        } catch (IOException | GeneralSecurityException e) {
            throw new BadInputException(setting + ": cannot open " + store + " as a PKCS12 store (" + e.getMessage()
                    + "): check the file and its password in " + passwordSetting, e);
        }
    }

    private static boolean hasKey(KeyStore ks) throws BadInputException {
        try {
            for (String alias : Collections.list(ks.aliases())) {
                if (ks.isKeyEntry(alias)) {
                    return true;
                }
            }
            return false;
        } catch (GeneralSecurityException e) {
            throw new BadInputException("cannot list the entries of a PKCS12 keystore: " + e.getMessage(), e);
        }
    }
}

package io.resilientkvm.engine.zk;

import io.resilientkvm.engine.tls.Keytool;
import io.resilientkvm.engine.secret.TestSecrets;
import java.io.IOException;
import java.nio.file.Path;

import java.util.Optional;

/**
 * Real PKCS12 stores for TLS to ZooKeeper, made by the JDK's keytool: the server's and a node's
 * self-signed certificates (subjectAltName ip:127.0.0.1, since ZooKeeper's client checks the
 * host), a truststore trusting both (the server's for the client, the node's for the server) and
 * one trusting an unrelated certificate only. One password for all, in a mode-600 file.
 */
public record ZkTlsCertificates(Path serverKeystore, Path clientKeystore, Path truststore, Path otherTruststore,
        Path passwordFile) {
    private static final String PASSWORD = "zk-tls-test-password";

    public static ZkTlsCertificates create(Path dir) throws IOException, InterruptedException {
        ZkTlsCertificates c = new ZkTlsCertificates(dir.resolve("zk-server.p12"), dir.resolve("node.p12"), dir.resolve("trust.p12"),
                dir.resolve("other-trust.p12"), TestSecrets.write(dir.resolve("stores.password"), PASSWORD));
        Path other = dir.resolve("other.p12");
        keyPair(c.serverKeystore, "zookeeper");
        keyPair(c.clientKeystore, "node-a");
        keyPair(other, "someone-else");
        trust(c.serverKeystore, "zookeeper", c.truststore, dir);
        trust(c.clientKeystore, "node-a", c.truststore, dir);
        trust(other, "someone-else", c.otherTruststore, dir);
        return c;
    }

    /** The node's TLS settings: the good truststore and the node's client certificate. */
    public ZkTlsStores stores() {
        return new ZkTlsStores(truststore, passwordFile, Optional.of(clientKeystore), Optional.of(passwordFile));
    }

    private static void keyPair(Path store, String alias) throws IOException, InterruptedException {
        Keytool.run("-genkeypair", "-alias", alias, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + alias,
                "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12", "-keystore", store.toString(),
                "-storepass", PASSWORD);
    }

    private static void trust(Path keystore, String alias, Path truststore, Path dir) throws IOException, InterruptedException {
        Path cert = dir.resolve(alias + ".crt");
        Keytool.run("-exportcert", "-alias", alias, "-keystore", keystore.toString(), "-storepass", PASSWORD, "-rfc", "-file",
                cert.toString());
        Keytool.run("-importcert", "-noprompt", "-alias", alias, "-file", cert.toString(), "-storetype", "PKCS12", "-keystore",
                truststore.toString(), "-storepass", PASSWORD);
    }

}

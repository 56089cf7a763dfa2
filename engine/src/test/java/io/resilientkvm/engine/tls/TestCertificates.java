package io.resilientkvm.engine.tls;

import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.secret.TestSecrets;
import java.io.IOException;
import java.nio.file.Path;

import java.util.Optional;
import java.util.OptionalInt;

/** Real self-signed node identities for tests, made by the JDK's keytool (EC P-256, SAN ip:127.0.0.1). */
public final class TestCertificates {
    private TestCertificates() {
    }

    /** One node's identity: its PKCS12 keystore and password file, and its certificate as PEM. */
    public record NodeCert(String node, Path keystore, Path passwordFile, Path certificate) {
        /** As the node configuration's {@code tls}. */
        public NodeConfig.Identity identity() {
            return new NodeConfig.Identity(keystore, passwordFile);
        }

        /** This node as a peer at {@code address}, pinned by its certificate, with no token or channel. */
        public NodeConfig.Peer asPeer(String address) {
            return new NodeConfig.Peer(address, Optional.of(certificate), Optional.empty(), Optional.empty(), OptionalInt.empty());
        }
    }

    /** Makes {@code node}'s keystore, password file and PEM certificate under {@code dir}. */
    public static NodeCert node(Path dir, String node) throws IOException, InterruptedException {
        Path ks = dir.resolve(node + ".p12");
        Path pass = dir.resolve(node + ".p12.password");
        Path pem = dir.resolve(node + ".crt");
        String password = "test-" + node + "-password";
        TestSecrets.write(pass, password);
        Keytool.run("-genkeypair", "-alias", node, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + node,
                "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12", "-keystore", ks.toString(),
                "-storepass", password);
        Keytool.run("-exportcert", "-alias", node, "-keystore", ks.toString(), "-storepass", password, "-rfc", "-file", pem.toString());
        return new NodeCert(node, ks, pass, pem);
    }

}

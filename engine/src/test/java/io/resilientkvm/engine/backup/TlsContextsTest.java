package io.resilientkvm.engine.backup;

import io.resilientkvm.engine.tls.Keytool;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.secret.TestSecrets;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's and the clone's TLS contexts from real keytool-made PKCS12 stores. */
class TlsContextsTest {
    @TempDir
    Path dir;

    @Test
    void aKeystoreServesAndItsExportedCertificateIsTrusted() throws Exception {
        Path ks = dir.resolve("main.p12");
        Path cert = dir.resolve("main.crt");
        Path trust = dir.resolve("trust.p12");
        Path pass = dir.resolve("pass");
        TestSecrets.write(pass, "changeit-test");
        Keytool.run("-genkeypair", "-alias", "main", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=127.0.0.1",
                "-validity", "2", "-storetype", "PKCS12", "-keystore", ks.toString(), "-storepass", "changeit-test");
        Keytool.run("-exportcert", "-alias", "main", "-keystore", ks.toString(), "-storepass", "changeit-test", "-rfc",
                "-file", cert.toString());
        Keytool.run("-importcert", "-noprompt", "-alias", "main", "-file", cert.toString(), "-storetype", "PKCS12",
                "-keystore", trust.toString(), "-storepass", "changeit-test");
        SSLContext serving = TlsContexts.serving(ks, pass);
        SSLContext trusting = TlsContexts.trusting(trust, pass);
        assertEquals("TLS", serving.getProtocol());
        assertEquals("TLS", trusting.getProtocol());
    }

    @Test
    void aBrokenStoreIsBadInputNamingTheFileAndTheSetting() throws Exception {
        Path junk = dir.resolve("junk.p12");
        Path pass = dir.resolve("pass");
        Files.writeString(junk, "not a keystore");
        TestSecrets.write(pass, "secret");
        BadInputException server = assertThrows(BadInputException.class, () -> TlsContexts.serving(junk, pass));
        assertTrue(server.getMessage().contains(junk.toString())
                && server.getMessage().contains("backup-server.keystore-password-file"), server.getMessage());
        BadInputException clone = assertThrows(BadInputException.class, () -> TlsContexts.trusting(junk, pass));
        assertTrue(clone.getMessage().contains("truststore " + junk), clone.getMessage());
    }

}

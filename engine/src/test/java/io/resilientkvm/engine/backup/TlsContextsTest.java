package io.resilientkvm.engine.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.secret.TestSecrets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
        keytool("-genkeypair", "-alias", "main", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=127.0.0.1",
                "-validity", "2", "-storetype", "PKCS12", "-keystore", ks.toString(), "-storepass", "changeit-test");
        keytool("-exportcert", "-alias", "main", "-keystore", ks.toString(), "-storepass", "changeit-test", "-rfc",
                "-file", cert.toString());
        keytool("-importcert", "-noprompt", "-alias", "main", "-file", cert.toString(), "-storetype", "PKCS12",
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

    private static void keytool(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool")
                .toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "keytool did not finish");
        assertEquals(0, p.exitValue(), out);
    }
}

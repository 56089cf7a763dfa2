package io.resilientkvm.engine.secret;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 12: token and password files were read whatever their permissions, and a one-character token was accepted. */
class SecretFilesTest {
    private static final String TOKEN = "0123456789abcdef0123456789abcdef";

    @TempDir
    Path dir;

    @Test
    void aFileReadableByGroupOrOthersIsRefusedWithTheChmod() throws Exception {
        for (String mode : new String[] {"rw-r--r--", "rw-r-----", "rw----r--", "rw-rw----", "rw-----w-"}) {
            Path f = Files.writeString(dir.resolve("token-" + mode), TOKEN + "\n");
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
            BadInputException e = assertThrows(BadInputException.class,
                    () -> SecretFiles.readToken(f, "backup-server.token-file"), mode);
            assertTrue(e.getMessage().contains("chmod 600 " + f), e.getMessage());
            assertTrue(e.getMessage().contains("backup-server.token-file") && e.getMessage().contains(mode),
                    e.getMessage());
            assertThrows(BadInputException.class, () -> SecretFiles.readSecret(f, "backup-server.keystore-password-file"));
        }
    }

    @Test
    void aPrivateFileIsReadItsFirstLineTrimmed() throws Exception {
        Path f = TestSecrets.write(dir.resolve("token"), "  " + TOKEN + "  \nsecond line");
        assertEquals(TOKEN, SecretFiles.readToken(f, "backup-server.token-file"));
        Path owner = Files.writeString(dir.resolve("read-only"), "pw\n");
        Files.setPosixFilePermissions(owner, PosixFilePermissions.fromString("r--------"));
        assertEquals("pw", SecretFiles.readSecret(owner, "vnc.password-file"));
    }

    @Test
    void aShortTokenAnEmptyFileAndAMissingOneAreRefused() throws Exception {
        Path one = TestSecrets.write(dir.resolve("one"), "x");
        BadInputException shortToken = assertThrows(BadInputException.class,
                () -> SecretFiles.readToken(one, "backup-server.token-file"));
        assertTrue(shortToken.getMessage().contains("has 1 characters") && shortToken.getMessage().contains("at least 32"),
                shortToken.getMessage());
        Path almost = TestSecrets.write(dir.resolve("almost"), TOKEN.substring(1));
        assertThrows(BadInputException.class, () -> SecretFiles.readToken(almost, "backup-server.token-file"));
        // A short password is the owner's choice (the keystore decides); only a token has a floor.
        assertEquals("x", SecretFiles.readSecret(one, "backup-server.keystore-password-file"));
        Path empty = TestSecrets.write(dir.resolve("empty"), "");
        BadInputException e = assertThrows(BadInputException.class, () -> SecretFiles.readSecret(empty, "vnc.password-file"));
        assertTrue(e.getMessage().contains("is empty"), e.getMessage());
        BadInputException missing = assertThrows(BadInputException.class,
                () -> SecretFiles.readToken(dir.resolve("none"), "backup-server.token-file"));
        assertTrue(missing.getMessage().contains("cannot read"), missing.getMessage());
    }
}

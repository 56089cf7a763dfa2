package io.resilientkvm.engine.secret;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** Secret files for tests, written as the node requires them: mode 0600. */
public final class TestSecrets {
    private TestSecrets() {
    }

    /** Writes {@code secret} and a newline to {@code file}, readable and writable by this user only. */
    public static Path write(Path file, String secret) throws IOException {
        Files.writeString(file, secret + "\n", StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }
}

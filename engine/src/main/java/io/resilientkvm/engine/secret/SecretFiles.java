package io.resilientkvm.engine.secret;

import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Set;

/**
 * The one reader of secret files (bearer tokens, keystore, truststore and VNC passwords): a
 * file that group or others may read or write is refused with the {@code chmod} that fixes it,
 * an empty one is refused, and a bearer token must be at least {@link #MIN_TOKEN_LENGTH}
 * characters. The secret is the file's first line, trimmed.
 */
public final class SecretFiles {
    /** 32 characters of a random token are far beyond guessing at any rate the server allows. */
    public static final int MIN_TOKEN_LENGTH = 32;
    private static final Set<PosixFilePermission> SHARED = EnumSet.of(PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);

    private SecretFiles() {
    }

    /** A bearer token: a private file whose first line has at least {@link #MIN_TOKEN_LENGTH} characters. */
    public static String readToken(Path file, String setting) throws BadInputException {
        String token = readSecret(file, setting);
        if (token.length() < MIN_TOKEN_LENGTH) {
            throw new BadInputException(setting + ": the token in " + file + " has " + token.length()
                    + " characters; use at least " + MIN_TOKEN_LENGTH + " random ones, e.g. "
                    + "'openssl rand -hex 32 > " + file + "' (the same file on every node)");
        }
        return token;
    }

    /** Any secret (a password): a private file with a non-empty first line. */
    public static String readSecret(Path file, String setting) throws BadInputException {
        requirePrivate(file, setting);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new BadInputException(setting + ": cannot read " + file + " (" + e.getMessage()
                    + "); create it with the secret on its first line, readable only by this user", e);
        }
        String line = text.lines().findFirst().orElse("").strip();
        if (line.isEmpty()) {
            throw new BadInputException(setting + ": " + file + " is empty; put the secret on its first line");
        }
        return line;
    }

    /**
     * Refuses a secret file that group or others may read or write (on a file system without
     * POSIX permissions there is nothing to check). A missing file is left to the read to report.
     */
    public static void requirePrivate(Path file, String setting) throws BadInputException {
        Set<PosixFilePermission> perms;
        try {
            perms = Files.getPosixFilePermissions(file);
        } catch (UnsupportedOperationException e) {
            return;
        } catch (IOException e) {
            return;
        }
        if (perms.stream().anyMatch(SHARED::contains)) {
            throw new BadInputException(setting + ": " + file + " is readable or writable by group or others (mode "
                    + PosixFilePermissions.toString(perms) + "), so it is not secret; run 'chmod 600 " + file
                    + "' (and check who could have read it)");
        }
    }
}

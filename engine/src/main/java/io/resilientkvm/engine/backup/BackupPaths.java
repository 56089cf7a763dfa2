package io.resilientkvm.engine.backup;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.secret.SecretFiles;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The wire contract between the main's backup server and the clones' fetchers: which URL
 * path names which file of a repository. A path is accepted only in its one canonical form
 * ({@code /v1/repository/<device>/<chain>/<file>}, names from a fixed alphabet, no
 * percent-encoding), so nothing a client sends can name a file outside the repository.
 */
public final class BackupPaths {
    /** Prefix of every repository file's URL path. */
    public static final String REPOSITORY_PREFIX = "/v1/repository/";
    /** Liveness probe: no authentication, serves no data. */
    public static final String HEALTH = "/v1/health";
    /** Device and chain names: the same rule as {@code ZkLayout.requireName}. */
    public static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
    /** A backup file ({@code FULL-}/{@code INC-} plus the repository's time stamp), or its manifest. */
    public static final Pattern FILE = Pattern.compile("(FULL|INC)-[0-9]{8}T[0-9]{6}\\.[0-9]{3}Z\\.qcow2(\\.json)?");

    private static final Pattern PATH = Pattern.compile(
            Pattern.quote(REPOSITORY_PREFIX) + "([^/]+)/([^/]+)/([^/]+)");

    private BackupPaths() {
    }

    /**
     * One file of a repository, named by validated parts.
     *
     * @param device the disk's folder
     * @param chain  the chain's folder
     * @param file   the backup file or its manifest ({@code .json})
     */
    public record Ref(String device, String chain, String file) {
        public Ref {
            require("device", device, NAME);
            require("chain", chain, NAME);
            require("file", file, FILE);
        }

        /** The reference to a backup's file. */
        public static Ref of(BackupManifest m) {
            return new Ref(m.device(), m.chainId(), m.file());
        }

        /** True when this names a manifest rather than a backup file. */
        public boolean isManifest() {
            return file.endsWith(BackupManifest.SUFFIX);
        }

        /** The backup file this names or whose manifest this names. */
        public String backupFile() {
            return isManifest() ? file.substring(0, file.length() - BackupManifest.SUFFIX.length()) : file;
        }

        /** The URL path (no encoding needed: every part is in the safe alphabet). */
        public String urlPath() {
            return REPOSITORY_PREFIX + device + "/" + chain + "/" + file;
        }

        /** The URI of this file on a server whose base is {@code base} (e.g. {@code https://main:8443}). */
        public URI uri(URI base) {
            String b = base.toString();
            return URI.create((b.endsWith("/") ? b.substring(0, b.length() - 1) : b) + urlPath());
        }

        /** The file's place under a repository root (parts are validated, so it stays under it). */
        public Path resolve(Path root) {
            return root.resolve(device).resolve(chain).resolve(file);
        }

        private static void require(String what, String value, Pattern p) {
            Objects.requireNonNull(value, what);
            if (!p.matcher(value).matches()) {
                throw new IllegalArgumentException(what + " '" + value + "' is not a valid repository name (pattern "
                        + p.pattern() + ")");
            }
        }
    }

    /**
     * Reads a secret (keystore or truststore password) from its file: the first line, trimmed,
     * through {@link SecretFiles#readSecret} (a file group or others can read is refused).
     * {@code setting} names the configuration key in error messages.
     */
    public static String readSecret(Path file, String setting) throws BadInputException {
        return SecretFiles.readSecret(file, setting);
    }

    /**
     * Parses a raw (still percent-encoded) URL path. Empty for anything but the canonical form:
     * a '%' anywhere, an empty or dot segment, extra segments or a name outside the alphabet.
     */
    public static Optional<Ref> parse(String rawPath) {
        if (rawPath == null || rawPath.indexOf('%') >= 0) {
            return Optional.empty();
        }
        Matcher m = PATH.matcher(rawPath);
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Ref(m.group(1), m.group(2), m.group(3)));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }
}

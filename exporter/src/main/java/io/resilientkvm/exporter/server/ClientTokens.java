package io.resilientkvm.exporter.server;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.secret.SecretFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bearer tokens the backup server accepts: either one shared token (the node's own
 * {@code backup-server.token-file}, read at start), or one per clone ({@code peers.NODE.token-file}),
 * looked at on every request so that deleting or changing a clone's file revokes it without a
 * restart. A per-clone file is re-read only when its modification time, size, inode or mode
 * changed (one {@code stat} per request otherwise). A caller known by its client certificate may
 * present only its own node's token. Thread-safe.
 */
final class ClientTokens {
    private static final Logger LOG = LoggerFactory.getLogger(BackupServer.class);
    /** The name given when the token is the shared one (no per-clone tokens configured). */
    static final String SHARED = "shared-token";
    static final String UNKNOWN = "unknown";

    /** Who a request authenticated as: {@code node} is the caller's name, or {@link #UNKNOWN}. */
    record Verdict(boolean accepted, String node) {}

    /** One clone's token file as last seen: what identifies that version of the file, and its token or why there is none. */
    private record Seen(Object version, Optional<byte[]> token, String problem) {}

    private final Optional<byte[]> shared;
    private final Map<String, Path> files;
    private final Map<String, Seen> seen = new ConcurrentHashMap<>();

    private ClientTokens(Optional<byte[]> shared, Map<String, Path> files) {
        this.shared = shared;
        this.files = files;
    }

    /** One token for every client, from {@code tokenFile}. */
    static ClientTokens shared(Path tokenFile) throws BadInputException {
        return new ClientTokens(Optional.of(SecretFiles.readToken(tokenFile, "backup-server.token-file")
                .getBytes(StandardCharsets.UTF_8)), Map.of());
    }

    /**
     * One token per clone. A file that exists but is not a usable secret is bad input at start; a
     * missing one only means that clone is revoked (so a main restarted after a revocation still starts).
     */
    static ClientTokens perNode(Map<String, Path> files) throws BadInputException {
        ClientTokens t = new ClientTokens(Optional.empty(), Map.copyOf(new LinkedHashMap<>(files)));
        for (String node : new java.util.TreeSet<>(files.keySet())) {
            Seen s = t.current(node);
            if (s.token().isEmpty() && Files.exists(files.get(node))) {
                throw new BadInputException(s.problem());
            }
        }
        return t;
    }

    /** True when each clone has its own token. */
    boolean perNode() {
        return shared.isEmpty();
    }

    /**
     * Checks {@code given} (the bearer token; null when none was sent). With a {@code caller} known
     * by its certificate only that node's token counts; otherwise any clone's, and the caller is
     * the node whose token it is.
     */
    Verdict check(Optional<String> caller, byte[] given) {
        if (shared.isPresent()) {
            boolean ok = given != null && MessageDigest.isEqual(given, shared.get());
            return new Verdict(ok, caller.orElse(ok ? SHARED : UNKNOWN));
        }
        if (caller.isPresent()) {
            String node = caller.get();
            if (!files.containsKey(node)) {
                return new Verdict(false, node); // pinned, but no token-file here: not a clone of this main
            }
            Optional<byte[]> token = current(node).token();
            return new Verdict(given != null && token.isPresent() && MessageDigest.isEqual(given, token.get()), node);
        }
        String matched = null;
        for (String node : files.keySet()) { // every file compared, so the time taken does not tell which matched
            Optional<byte[]> token = current(node).token();
            if (given != null && token.isPresent() && MessageDigest.isEqual(given, token.get())) {
                matched = node;
            }
        }
        return new Verdict(matched != null, matched == null ? UNKNOWN : matched);
    }

    /** {@code node}'s token as its file is now; a change of state (revoked, back) is logged once. */
    private Seen current(String node) {
        Path file = files.get(node);
        Object version = version(file);
        Seen before = seen.get(node);
        if (before != null && Objects.equals(before.version(), version)) {
            return before; // the usual case: one stat, no read
        }
        synchronized (this) {
            before = seen.get(node);
            if (before != null && Objects.equals(before.version(), version)) {
                return before;
            }
            Seen now = read(node, file, version);
            seen.put(node, now);
            boolean wasAccepted = before != null && before.token().isPresent();
            if (now.token().isEmpty() && (before == null || wasAccepted || !Objects.equals(before.problem(), now.problem()))) {
                LOG.warn("Backup server: {} is refused from now on: {} (revoked; write its token there to admit it again)",
                        node, now.problem());
            } else if (now.token().isPresent() && before != null && !wasAccepted) {
                LOG.info("Backup server: {} is admitted again: peers.{}.token-file {} holds a token", node, node, file);
            } else if (now.token().isPresent() && before != null && !Arrays.equals(before.token().get(), now.token().get())) {
                LOG.info("Backup server: the token of {} changed ({}); its old token is refused from now on", node, file);
            }
            return now;
        }
    }

    private static Seen read(String node, Path file, Object version) {
        if (version == null) {
            return new Seen(null, Optional.empty(), "peers." + node + ".token-file " + file + " does not exist");
        }
        try {
            return new Seen(version, Optional.of(SecretFiles.readToken(file, "peers." + node + ".token-file")
                    .getBytes(StandardCharsets.UTF_8)), null);
        } catch (BadInputException e) {
            return new Seen(version, Optional.empty(), e.getMessage());
        }
    }

    /** What identifies this version of {@code file} (mtime, size, inode, mode), or null when it does not exist. */
    private static Object version(Path file) {
        try {
            try {
                PosixFileAttributes a = Files.readAttributes(file, PosixFileAttributes.class);
                return java.util.List.of(a.lastModifiedTime(), a.size(), String.valueOf(a.fileKey()), a.permissions());
            } catch (UnsupportedOperationException e) {
                BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
                return java.util.List.of(a.lastModifiedTime(), a.size(), String.valueOf(a.fileKey()));
            }
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            return "unreadable: " + e.getMessage(); // read again and refused with the reason
        }
    }
}

package io.resilientkvm.engine.backup;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.schemas.InvalidDocumentException;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import io.resilientkvm.schemas.Violation;
import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What one backup file holds, written beside it as {@code <file>.json}. The exporter writes
 * it last, so its presence marks the backup complete; the importer reads it to verify and
 * store the file. Shared here (not in the exporter) so that readers need only the engine.
 *
 * @param formatVersion   always {@link #FORMAT_VERSION}; other values are refused on read
 * @param instance        the VM (instance) name
 * @param device          the disk's folder name in the repository (backend name or qdev id)
 * @param chainId         the chain this backup belongs to (its folder name)
 * @param sequence        0 for the full backup, then 1, 2, ... for the incrementals
 * @param level           FULL or INC
 * @param file            the backup file's name (no directory)
 * @param parent          the backing file's name (relative, same folder); null for a full
 * @param bitmap          the dirty bitmap that tracks this chain on the VM
 * @param virtualSize     the disk's virtual size in bytes
 * @param fileSize        the backup file's size in bytes
 * @param sha256          the backup file's SHA-256 (lower-case hex)
 * @param createdAt       when the manifest was written (the backup became complete)
 * @param startedAt       when the backup job started: the point in time the file captures
 * @param finishedAt      when the backup job finished
 * @param epoch           the cluster epoch of the main that took it; 0 when not clustered
 * @param bytesTransferred bytes the QEMU job copied
 * @param durationMillis  how long the job ran
 */
public record BackupManifest(int formatVersion, String instance, String device, String chainId, int sequence,
        Level level, String file, String parent, String bitmap, long virtualSize, long fileSize, String sha256,
        Instant createdAt, Instant startedAt, Instant finishedAt, long epoch, long bytesTransferred,
        long durationMillis) {

    /** The only manifest format this code reads and writes. */
    public static final int FORMAT_VERSION = 1;
    /** The suffix of a manifest file next to its backup file. */
    public static final String SUFFIX = ".json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** A full backup starts a chain; an incremental holds the clusters written since its parent. */
    public enum Level { FULL, INC }

    public BackupManifest {
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(chainId, "chainId");
        Objects.requireNonNull(level, "level");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(bitmap, "bitmap");
        // These names become paths in the repository: never a separator or a parent reference.
        requireSimpleName("device", device);
        requireSimpleName("chainId", chainId);
        requireSimpleName("file", file);
        if (parent != null) {
            requireSimpleName("parent", parent);
        }
        if (level == Level.FULL && (parent != null || sequence != 0)) {
            throw new IllegalArgumentException("a full backup has sequence 0 and no parent: " + file);
        }
        if (level == Level.INC && (parent == null || sequence <= 0)) {
            throw new IllegalArgumentException("an incremental backup has a parent and a sequence > 0: " + file);
        }
    }

    private static void requireSimpleName(String field, String value) {
        if (!isPlainName(value)) {
            throw new IllegalArgumentException(field + " must be a plain file name (no '/', no '..'): '" + value + "'");
        }
    }

    /**
     * True when {@code name} can be a file or folder name in the repository as it is: not
     * empty, no '/', no backslash, no NUL, no "..". Device names, chain ids and file names must be.
     */
    public static boolean isPlainName(String name) {
        return !name.isEmpty() && !name.contains("/") && !name.contains("\\") && !name.contains("..")
                && name.indexOf('\0') < 0;
    }

    /** The manifest's path for a backup file. */
    public static Path manifestPath(Path backupFile) {
        return backupFile.resolveSibling(backupFile.getFileName() + SUFFIX);
    }

    /** The manifest as JSON. */
    public String toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("formatVersion", formatVersion);
        o.put("instance", instance);
        o.put("device", device);
        o.put("chainId", chainId);
        o.put("sequence", sequence);
        o.put("level", level.name());
        o.put("file", file);
        if (parent == null) {
            o.putNull("parent");
        } else {
            o.put("parent", parent);
        }
        o.put("bitmap", bitmap);
        o.put("virtualSize", virtualSize);
        o.put("fileSize", fileSize);
        o.put("sha256", sha256);
        o.put("createdAt", String.valueOf(createdAt));
        o.put("startedAt", String.valueOf(startedAt));
        o.put("finishedAt", String.valueOf(finishedAt));
        o.put("epoch", epoch);
        ObjectNode job = o.putObject("job");
        job.put("bytesTransferred", bytesTransferred);
        job.put("durationMillis", durationMillis);
        try {
            return JSON.writeValueAsString(o) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode manifest of " + file, e);
        }
    }

    /** Reads a manifest file; a missing field, bad value or unknown format version is bad input. */
    public static BackupManifest read(Path manifest) throws IOException, BadInputException {
        return parse(Files.readString(manifest, StandardCharsets.UTF_8), manifest.toString());
    }

    /**
     * Parses manifest JSON; {@code where} names its source in error messages. The document must
     * match {@code backup-manifest-schema.json} (schemas module) exactly: every field, its type,
     * file names {@code FULL-/INC-<time>.qcow2}, a lower-case hex SHA-256, parent null iff full.
     */
    public static BackupManifest parse(String json, String where) throws BadInputException {
        ObjectNode o;
        try {
            o = JsonDocuments.parseObject(json, where);
        } catch (InvalidDocumentException e) {
            throw new BadInputException(e.problems().stream().map(p -> p + " (not a backup manifest)").toList());
        }
        JsonNode versionNode = o.path("formatVersion");
        int version = versionNode.canConvertToInt() && versionNode.isIntegralNumber() ? versionNode.asInt() : -1;
        if (version != FORMAT_VERSION) {
            throw new BadInputException(where + ": backup manifest formatVersion " + versionNode
                    + " is not supported (this version reads " + FORMAT_VERSION + "); upgrade resilient-kvm");
        }
        List<Violation> violations = ParameterValidator.of(SchemaKind.BACKUP_MANIFEST).validate(o).violations();
        if (!violations.isEmpty()) {
            throw new BadInputException(violations.stream().map(v -> where + ": field " + v).toList());
        }
        List<String> problems = new ArrayList<>();
        Reader r = new Reader(o, where, problems);
        BackupManifest m = null;
        String levelText = r.text("level", true);
        Level level = null;
        try {
            level = levelText == null ? null : Level.valueOf(levelText);
        } catch (IllegalArgumentException e) {
            problems.add(where + ": level must be FULL or INC, not '" + levelText + "'");
        }
        String instance = r.text("instance", false);
        String device = r.text("device", true);
        String chain = r.text("chainId", true);
        int sequence = (int) r.number(o, "sequence");
        String file = r.text("file", true);
        String parent = r.text("parent", false);
        String bitmap = r.text("bitmap", true);
        long virtualSize = r.number(o, "virtualSize");
        long fileSize = r.number(o, "fileSize");
        String sha = r.text("sha256", true);
        if (sha != null && !sha.matches("[0-9a-f]{64}")) {
            problems.add(where + ": sha256 must be 64 lower-case hex digits");
        }
        Instant created = r.instant("createdAt");
        Instant started = r.instant("startedAt");
        Instant finished = r.instant("finishedAt");
        long epoch = o.path("epoch").asLong(0);
        JsonNode job = o.path("job");
        long bytes = job.path("bytesTransferred").asLong(0);
        long millis = job.path("durationMillis").asLong(0);
        if (problems.isEmpty()) {
            try {
                m = new BackupManifest(version, instance, device, chain, sequence, level, file, parent, bitmap,
                        virtualSize, fileSize, sha, created, started, finished, epoch, bytes, millis);
            } catch (IllegalArgumentException e) {
                problems.add(where + ": " + e.getMessage());
            }
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
        return m;
    }

    private record Reader(JsonNode o, String where, List<String> problems) {
        String text(String field, boolean required) {
            JsonNode n = o.get(field);
            if (n == null || n.isNull()) {
                if (required) {
                    problems.add(where + ": field '" + field + "' is missing");
                }
                return null;
            }
            if (!n.isTextual()) {
                problems.add(where + ": field '" + field + "' must be a string");
                return null;
            }
            return n.asText();
        }

        long number(JsonNode node, String field) {
            JsonNode n = node.get(field);
            if (n == null || !n.canConvertToLong()) {
                problems.add(where + ": field '" + field + "' must be an integer");
                return 0;
            }
            return n.asLong();
        }

        Instant instant(String field) {
            String t = text(field, true);
            if (t == null) {
                return null;
            }
            try {
                return Instant.parse(t);
            } catch (DateTimeParseException e) {
                problems.add(where + ": field '" + field + "' must be an ISO-8601 instant, not '" + t + "'");
                return null;
            }
        }
    }
}

package io.resilientkvm.engine.backup;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonProcessingException;
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

    /** The manifest as JSON (the on-disk form, {@code backup-manifest-schema.json}). */
    public String toJson() {
        Document d = new Document(formatVersion, instance, device, chainId, sequence, level, file, parent, bitmap,
                virtualSize, fileSize, sha256, String.valueOf(createdAt), String.valueOf(startedAt),
                String.valueOf(finishedAt), epoch, new Job(bytesTransferred, durationMillis));
        try {
            return JSON.writeValueAsString(d) + "\n";
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
        Document d;
        try {
            d = JSON.treeToValue(o, Document.class);
        } catch (JsonProcessingException e) {
            throw new BadInputException(where + ": not a backup manifest: " + e.getOriginalMessage());
        }
        List<String> problems = new ArrayList<>();
        Instant created = instant(d.createdAt(), "createdAt", where, problems);
        Instant started = instant(d.startedAt(), "startedAt", where, problems);
        Instant finished = instant(d.finishedAt(), "finishedAt", where, problems);
        if (problems.isEmpty()) {
            try {
                return new BackupManifest(version, d.instance(), d.device(), d.chainId(), d.sequence(), d.level(),
                        d.file(), d.parent(), d.bitmap(), d.virtualSize(), d.fileSize(), d.sha256(), created, started,
                        finished, d.epoch(), d.job().bytesTransferred(), d.job().durationMillis());
            } catch (IllegalArgumentException e) {
                problems.add(where + ": " + e.getMessage());
            }
        }
        throw new BadInputException(problems);
    }

    private static Instant instant(String text, String field, String where, List<String> problems) {
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            problems.add(where + ": field '" + field + "' must be an ISO-8601 instant, not '" + text + "'");
            return null;
        }
    }

    /** The on-disk form, field for field in the schema's order; instants as ISO-8601 text. */
    @JsonPropertyOrder({"formatVersion", "instance", "device", "chainId", "sequence", "level", "file", "parent",
            "bitmap", "virtualSize", "fileSize", "sha256", "createdAt", "startedAt", "finishedAt", "epoch", "job"})
    record Document(int formatVersion, String instance, String device, String chainId, int sequence, Level level,
            String file, String parent, String bitmap, long virtualSize, long fileSize, String sha256,
            String createdAt, String startedAt, String finishedAt, long epoch, Job job) {
    }

    /** The QEMU job's figures, a nested object on disk. */
    @JsonPropertyOrder({"bytesTransferred", "durationMillis"})
    record Job(long bytesTransferred, long durationMillis) {
    }
}

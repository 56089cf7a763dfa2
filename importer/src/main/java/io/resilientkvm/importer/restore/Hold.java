package io.resilientkvm.importer.restore;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Objects;

/**
 * A chain protected from pruning because an instant-restore overlay reads from it. Stored as
 * {@code <root>/.holds/<id>.json} (format 1) until released.
 *
 * @param id        the hold's name (file name without {@code .json})
 * @param device    the disk's folder in the repository
 * @param chainId   the chain the overlay is backed by
 * @param file      the backup file the overlay is backed by (in that chain)
 * @param overlay   the overlay's absolute path
 * @param createdAt when the overlay was made
 * @param pid       the process that made it
 * @param host      the host that made it
 */
public record Hold(String id, String device, String chainId, String file, Path overlay, Instant createdAt, long pid,
        String host) {
    /** The only hold format this code reads and writes. */
    public static final int FORMAT_VERSION = 1;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES);

    public Hold {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(chainId, "chainId");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(overlay, "overlay");
        Objects.requireNonNull(createdAt, "createdAt");
        if (!id.matches("[A-Za-z0-9._-]+") || id.startsWith(".")) {
            throw new IllegalArgumentException("hold id '" + id + "' must be letters, digits, '.', '_' or '-'");
        }
    }

    /** The hold as JSON (format 1, the on-disk form). */
    public String toJson() {
        try {
            return JSON.writeValueAsString(new Document(FORMAT_VERSION, id, device, chainId, file, overlay.toString(),
                    createdAt.toString(), pid, host)) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException("cannot encode hold " + id, e);
        }
    }

    /** Parses a hold file's content; {@code where} names it in messages. */
    public static Hold parse(String json, String where) throws BadInputException {
        try {
            JsonNode o = JSON.readTree(json);
            if (o == null || !o.isObject()) {
                throw new BadInputException(where + ": not a hold (expected a JSON object)");
            }
            if (o.path("formatVersion").asInt(-1) != FORMAT_VERSION) {
                throw new BadInputException(where + ": hold formatVersion " + o.path("formatVersion")
                        + " is not supported (this version reads " + FORMAT_VERSION + "); upgrade resilient-kvm");
            }
            Document d = JSON.treeToValue(o, Document.class);
            return new Hold(d.id(), d.device(), d.chainId(), d.file(), Path.of(d.overlay()), Instant.parse(d.createdAt()),
                    d.pid(), d.host());
        } catch (JsonProcessingException e) {
            throw new BadInputException(where + ": not a valid hold: " + e.getOriginalMessage()
                    + "; if its overlay is gone, delete the file", e);
        } catch (DateTimeParseException | IllegalArgumentException e) {
            throw new BadInputException(where + ": not a valid hold: " + e.getMessage()
                    + "; if its overlay is gone, delete the file", e);
        }
    }

    /** The on-disk form, field for field; every field is required. */
    @JsonPropertyOrder({"formatVersion", "id", "device", "chainId", "file", "overlay", "createdAt", "pid", "host"})
    record Document(int formatVersion, String id, String device, String chainId, String file, String overlay,
            String createdAt, long pid, String host) {
    }
}

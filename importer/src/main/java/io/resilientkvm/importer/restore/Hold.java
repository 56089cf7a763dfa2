package io.resilientkvm.importer.restore;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
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

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

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

    public String toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("formatVersion", FORMAT_VERSION);
        o.put("id", id);
        o.put("device", device);
        o.put("chainId", chainId);
        o.put("file", file);
        o.put("overlay", overlay.toString());
        o.put("createdAt", createdAt.toString());
        o.put("pid", pid);
        o.put("host", host);
        try {
            return JSON.writeValueAsString(o) + "\n";
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
            return new Hold(o.path("id").asText(), o.path("device").asText(), o.path("chainId").asText(),
                    o.path("file").asText(), Path.of(o.path("overlay").asText()), Instant.parse(o.path("createdAt").asText()),
                    o.path("pid").asLong(), o.path("host").asText());
        } catch (IOException | DateTimeParseException | IllegalArgumentException e) {
            throw new BadInputException(where + ": not a valid hold: " + e.getMessage()
                    + "; if its overlay is gone, delete the file", e);
        }
    }
}

package io.resilientkvm.engine.zk;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.Objects;
import java.util.Optional;

/**
 * What a clone holds, as it announces it in {@code importers/NODE}: its newest verified backup
 * per disk, how much it imported, and its last error. It carries the epoch the clone followed
 * when it wrote it; readers treat an older epoch as stale.
 *
 * @param node      the clone
 * @param epoch     the epoch whose main this clone pulled from
 * @param updatedAt when it was written
 * @param held      newest verified backup per disk
 * @param bytes     bytes imported since the importer started
 * @param lastError the last import error, or null when the last round succeeded; published through
 *                  {@link PublishedText} (no control characters, at most about 1 KiB), whoever wrote it
 * @param chains    the chains this clone's repository keeps, per disk (what the main's catalog
 *                  retention must not remove), or null when the clone did not say (an older
 *                  version: then the main removes nothing from the catalog)
 */
public record ImporterStatus(String node, long epoch, Instant updatedAt, List<Point> held, long bytes, String lastError,
        Map<String, List<String>> chains) {
    public static final int FORMAT_VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * A backup point a clone holds verified.
     *
     * @param takenAt when the main captured it (the manifest's {@code startedAt})
     */
    public record Point(String device, String chainId, int sequence, String file, Instant takenAt) {
        public Point {
            Objects.requireNonNull(device, "device");
            Objects.requireNonNull(chainId, "chainId");
            Objects.requireNonNull(file, "file");
            Objects.requireNonNull(takenAt, "takenAt");
        }

        /** True when this point is at or after {@code other} of the same disk (chains are time stamps). */
        public boolean atLeast(String otherChain, int otherSequence) {
            int c = chainId.compareTo(otherChain);
            return c > 0 || (c == 0 && sequence >= otherSequence);
        }
    }

    public ImporterStatus {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(updatedAt, "updatedAt");
        held = List.copyOf(held);
        lastError = PublishedText.sanitize(lastError);
        if (chains != null) {
            Map<String, List<String>> copy = new TreeMap<>();
            chains.forEach((device, ids) -> copy.put(device, List.copyOf(ids)));
            chains = Collections.unmodifiableMap(copy);
        }
    }

    /** A status that does not say which chains the clone keeps. */
    public ImporterStatus(String node, long epoch, Instant updatedAt, List<Point> held, long bytes, String lastError) {
        this(node, epoch, updatedAt, held, bytes, lastError, null);
    }

    /** True when this clone said it keeps {@code chainId} of {@code device} (false when {@link #chains()} is null). */
    public boolean keeps(String device, String chainId) {
        return chains != null && chains.getOrDefault(device, List.of()).contains(chainId);
    }

    /** The point held for {@code device}, if any. */
    public Optional<Point> point(String device) {
        return held.stream().filter(p -> p.device().equals(device)).findFirst();
    }

    public byte[] toBytes() {
        ObjectNode o = JSON.createObjectNode();
        o.put("format-version", FORMAT_VERSION);
        o.put("node", node);
        o.put("epoch", epoch);
        o.put("updated", updatedAt.toString());
        ArrayNode points = o.putArray("held");
        for (Point p : held) {
            points.addObject().put("device", p.device()).put("chain", p.chainId()).put("sequence", p.sequence())
                    .put("file", p.file()).put("taken", p.takenAt().toString());
        }
        o.put("bytes", bytes);
        if (chains != null) {
            ObjectNode kept = o.putObject("chains");
            chains.forEach((device, ids) -> ids.forEach(kept.putArray(device)::add));
        }
        if (lastError == null) {
            o.putNull("last-error");
        } else {
            o.put("last-error", lastError);
        }
        return o.toString().getBytes(StandardCharsets.UTF_8);
    }

    public static ImporterStatus fromBytes(byte[] data, String where) throws IOException {
        JsonNode o = JSON.readTree(new String(data, StandardCharsets.UTF_8));
        int format = o == null ? -1 : o.path("format-version").asInt(-1);
        if (format != FORMAT_VERSION) {
            throw new IOException(where + ": importer status has format-version " + format + "; this version reads "
                    + FORMAT_VERSION + " (upgrade this node)");
        }
        List<Point> points = new ArrayList<>();
        for (JsonNode p : o.path("held")) {
            points.add(new Point(ZkLayout.requireName("device", p.path("device").asText()),
                    ZkLayout.requireName("chain", p.path("chain").asText()), p.path("sequence").asInt(),
                    p.path("file").asText(), Instant.parse(p.path("taken").asText())));
        }
        JsonNode error = o.path("last-error");
        Map<String, List<String>> chains = null;
        if (o.path("chains").isObject()) {
            chains = new TreeMap<>();
            for (var e : o.path("chains").properties()) {
                List<String> ids = new ArrayList<>();
                e.getValue().forEach(id -> ids.add(ZkLayout.requireName("chain", id.asText())));
                chains.put(ZkLayout.requireName("device", e.getKey()), ids);
            }
        }
        return new ImporterStatus(o.path("node").asText(), o.path("epoch").asLong(), Instant.parse(o.path("updated").asText()),
                points, o.path("bytes").asLong(), error.isTextual() ? error.asText() : null, chains);
    }
}

package io.resilientkvm.takeover.fencing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.engine.backup.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;

/**
 * The local, durable record that a node fenced itself. It is written before anything else
 * when fencing, survives restarts and a cut from ZooKeeper, and keeps the node from ever
 * starting its VM on its own until an operator clears it.
 */
public final class FenceMarker {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;

    public FenceMarker(Path file) {
        this.file = file;
    }

    /** The marker of the instance in {@code layout}: {@code etc/fenced.json}. */
    public static FenceMarker of(io.resilientkvm.engine.instance.InstanceLayout layout) {
        return new FenceMarker(layout.etc().resolve("fenced.json"));
    }

    public Path file() {
        return file;
    }

    /** Writes the marker durably (tmp, fsync, rename). */
    public void write(FenceReason reason) throws IOException {
        AtomicFiles.createDirectories(file.toAbsolutePath().getParent());
        byte[] bytes = JSON.createObjectNode()
                .put("format-version", 1)
                .put("node", reason.node())
                .put("why", reason.why())
                .put("epoch", reason.epoch())
                .put("at", reason.at().toString())
                .toPrettyString().getBytes(StandardCharsets.UTF_8);
        AtomicFiles.writeAtomically(file, bytes);
    }

    /** The recorded reason, if this node is fenced. A damaged marker still counts as fenced. */
    public Optional<FenceReason> read() {
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        try {
            JsonNode n = JSON.readTree(Files.readAllBytes(file));
            return Optional.of(new FenceReason(n.path("node").asText("?"), n.path("why").asText("?"), n.path("epoch").asLong(-1),
                    Instant.parse(n.path("at").asText(Instant.EPOCH.toString()))));
        } catch (IOException | RuntimeException e) {
            return Optional.of(new FenceReason("?", "fence marker " + file + " is unreadable (" + e.getMessage() + ")", -1, Instant.EPOCH));
        }
    }

    public boolean isFenced() {
        return Files.exists(file);
    }

    /** The operator's decision: this node may run again (as a clone). */
    public void clear() throws IOException {
        Files.deleteIfExists(file);
    }
}

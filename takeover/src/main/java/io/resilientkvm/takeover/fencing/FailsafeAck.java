package io.resilientkvm.takeover.fencing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.instance.InstanceLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * A clone's promise to a main that lost ZooKeeper (fail-safe mode): it takes part in no promotion
 * before {@code until}. Kept durably in {@code etc/failsafe-ack.json}, so that {@code bin/takeover}
 * (another process on the same host) and a restarted agent both honour it.
 *
 * @param main  the main acknowledged
 * @param epoch the epoch it owns
 * @param at    when this clone acknowledged
 * @param until the end of the promise
 */
public record FailsafeAck(String main, long epoch, Instant at, Instant until) {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int FORMAT = 1;

    public FailsafeAck {
        Objects.requireNonNull(main, "main");
        Objects.requireNonNull(at, "at");
        Objects.requireNonNull(until, "until");
    }

    /** True while the promise holds at {@code now}. */
    public boolean liveAt(Instant now) {
        return now.isBefore(until);
    }

    /** The file of the instance in {@code layout}. */
    public static Path file(InstanceLayout layout) {
        return layout.etc().resolve("failsafe-ack.json");
    }

    /** Writes it durably (tmp, fsync, rename). */
    public void write(Path file) throws IOException {
        AtomicFiles.createDirectories(file.toAbsolutePath().getParent());
        AtomicFiles.writeAtomically(file, JSON.createObjectNode().put("format-version", FORMAT).put("main", main)
                .put("epoch", epoch).put("at", at.toString()).put("until", until.toString())
                .toPrettyString().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * The promise recorded in {@code file}, if any. A file that cannot be read counts as a promise
     * that holds for ever ({@link Instant#MAX}): when in doubt, no promotion; the message of the
     * refusal names the file to look at.
     */
    public static Optional<FailsafeAck> read(Path file) {
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        try {
            JsonNode n = JSON.readTree(Files.readAllBytes(file));
            if (n.path("format-version").asInt() != FORMAT) {
                throw new IOException("format-version " + n.path("format-version") + " is not " + FORMAT);
            }
            return Optional.of(new FailsafeAck(n.path("main").asText(), n.path("epoch").asLong(),
                    Instant.parse(n.path("at").asText()), Instant.parse(n.path("until").asText())));
        } catch (IOException | RuntimeException e) {
            return Optional.of(new FailsafeAck("unknown (" + file + " is unreadable: " + e.getMessage()
                    + "; delete it once no main of an older epoch can run)", -1, Instant.EPOCH, Instant.MAX));
        }
    }
}

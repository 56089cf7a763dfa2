package io.resilientkvm.takeover.membership;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Objects;

/**
 * What a running node announces in its ephemeral member znode.
 *
 * @param address        where its backup server answers (host:port), "" when it serves none
 * @param backupSchedule a main's backup cron and where it comes from (e.g. chosen at random, kept in
 *                       etc/.backup-time), "" otherwise; an optional field, so format 1 readers ignore it
 */
public record MemberInfo(String node, Role role, String address, long epoch, Instant started, String backupSchedule) {
    public static final int FORMAT_VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    public MemberInfo {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(started, "started");
        Objects.requireNonNull(backupSchedule, "backupSchedule");
    }

    /** A member that announces no backup schedule (a clone, a fenced node). */
    public MemberInfo(String node, Role role, String address, long epoch, Instant started) {
        this(node, role, address, epoch, started, "");
    }

    public MemberInfo withRole(Role newRole, long newEpoch) {
        return new MemberInfo(node, newRole, address, newEpoch, started, newRole == Role.MAIN ? backupSchedule : "");
    }

    public byte[] toBytes() {
        return JSON.createObjectNode()
                .put("format-version", FORMAT_VERSION)
                .put("node", node)
                .put("role", role.name().toLowerCase(java.util.Locale.ROOT))
                .put("address", address)
                .put("epoch", epoch)
                .put("started", started.toString())
                .put("backup-schedule", backupSchedule)
                .toString().getBytes(StandardCharsets.UTF_8);
    }

    public static MemberInfo fromBytes(byte[] data) throws IOException {
        JsonNode n = JSON.readTree(data);
        int format = n.path("format-version").asInt(-1);
        if (format != FORMAT_VERSION) {
            throw new IOException("member znode has format-version " + format + "; this version reads " + FORMAT_VERSION);
        }
        return new MemberInfo(n.path("node").asText(), Role.valueOf(n.path("role").asText().toUpperCase(java.util.Locale.ROOT)),
                n.path("address").asText(""), n.path("epoch").asLong(), Instant.parse(n.path("started").asText()),
                n.path("backup-schedule").asText(""));
    }
}

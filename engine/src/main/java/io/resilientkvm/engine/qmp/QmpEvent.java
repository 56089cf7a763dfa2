package io.resilientkvm.engine.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;
import java.time.Instant;
import java.util.Objects;

/** An asynchronous QMP event, e.g. {@code JOB_STATUS_CHANGE} or {@code BLOCK_JOB_COMPLETED}. */
public record QmpEvent(String name, JsonNode data, Instant timestamp) {
    public QmpEvent {
        Objects.requireNonNull(name, "name");
        data = data == null ? NullNode.getInstance() : data;
        Objects.requireNonNull(timestamp, "timestamp");
    }

    /** A text field of {@code data}, or "" when absent. */
    public String dataText(String field) {
        return data.path(field).asText("");
    }
}

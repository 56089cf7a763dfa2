package io.resilientkvm.exporter.qmp;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A dirty bitmap on a block node, as {@code query-named-block-nodes} reports it.
 *
 * @param name         its name, e.g. {@code qmpbackup-virtio0-<chain>}
 * @param recording    whether it records writes (a disabled bitmap misses them)
 * @param busy         whether a job uses it now
 * @param persistent   whether QEMU stores it in the image at a clean shutdown
 * @param inconsistent whether QEMU was killed while it was in use: unusable, must be removed
 * @param granularity  bytes per bit
 * @param count        dirty bytes
 */
public record DirtyBitmap(String name, boolean recording, boolean busy, boolean persistent, boolean inconsistent,
        long granularity, long count) {

    static DirtyBitmap of(JsonNode b) {
        return new DirtyBitmap(b.path("name").asText(), b.path("recording").asBoolean(true),
                b.path("busy").asBoolean(false), b.path("persistent").asBoolean(false),
                b.path("inconsistent").asBoolean(false), b.path("granularity").asLong(), b.path("count").asLong());
    }
}

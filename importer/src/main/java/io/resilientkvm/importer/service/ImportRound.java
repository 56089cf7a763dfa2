package io.resilientkvm.importer.service;

import io.resilientkvm.engine.error.NextStep;
import java.time.Duration;
import java.util.List;

/**
 * What one reconcile round did.
 *
 * @param epoch    the epoch followed
 * @param imported backups imported, as {@code device/chain/file}
 * @param bytes    bytes transferred
 * @param refused  published backups refused (older epoch, broken chain, given up), with the reason
 * @param error    the error that stopped the round (or, when it went on, the first backup given up), or null
 * @param next     what the importer does about {@code error}: retry soon with backoff, skip the backups given
 *                 up until their manifests change, or wait for the next event (refused); null without error
 * @param retryIn  when the importer starts another round by itself (after a transient failure), or null:
 *                 the next round comes with an event or the periodic resync
 */
public record ImportRound(long epoch, List<String> imported, long bytes, List<String> refused, String error,
        NextStep next, Duration retryIn) {
    public ImportRound {
        imported = List.copyOf(imported);
        refused = List.copyOf(refused);
    }

    public boolean ok() {
        return error == null;
    }
}

package io.resilientkvm.importer.service;

import java.util.List;

/**
 * What one reconcile round did.
 *
 * @param epoch    the epoch followed
 * @param imported backups imported, as {@code device/chain/file}
 * @param bytes    bytes transferred
 * @param refused  published backups refused (older epoch, broken chain), with the reason
 * @param error    the error that stopped the round, or null
 */
public record ImportRound(long epoch, List<String> imported, long bytes, List<String> refused, String error) {
    public ImportRound {
        imported = List.copyOf(imported);
        refused = List.copyOf(refused);
    }

    public boolean ok() {
        return error == null;
    }
}

package io.resilientkvm.importer.retention;

import java.util.List;

/**
 * What a prune did on one disk.
 *
 * @param plan       the decisions, with their reasons
 * @param removed    the chains removed, oldest first
 * @param bytesFreed bytes deleted (including folders an interrupted prune had left)
 * @param seconds    how long it took
 */
public record PruneResult(RetentionPlan plan, List<String> removed, long bytesFreed, double seconds) {
    public PruneResult {
        removed = List.copyOf(removed);
    }
}

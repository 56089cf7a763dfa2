package io.resilientkvm.importer.retention;

import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * What retention needs to know about one chain.
 *
 * @param chainId  the chain's folder name (its full's time; chain ids sort oldest first)
 * @param backups  the points in time of its complete backups (any order)
 * @param verified the chain passed verification; false when it failed or was not checked
 * @param held     an instant-restore overlay reads from it
 */
public record ChainFacts(String chainId, List<Instant> backups, boolean verified, boolean held) {
    public ChainFacts {
        Objects.requireNonNull(chainId, "chainId");
        backups = List.copyOf(backups);
    }

    /** True when it holds at least one complete backup. */
    public boolean complete() {
        return !backups.isEmpty();
    }
}

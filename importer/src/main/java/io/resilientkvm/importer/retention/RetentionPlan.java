package io.resilientkvm.importer.retention;

import java.time.Instant;
import java.util.List;

/**
 * Retention's decisions on one disk's chains, oldest chain first.
 *
 * @param device    the disk
 * @param now       the clock's time the plan was made at
 * @param ageLimit  backups before this instant are older than {@code remove-backup-older-than}
 * @param policy    the policy applied
 * @param decisions one per chain
 */
public record RetentionPlan(String device, Instant now, Instant ageLimit, RetentionPolicy policy,
        List<ChainDecision> decisions) {
    public RetentionPlan {
        decisions = List.copyOf(decisions);
    }

    /** The chains to remove, oldest first. */
    public List<String> toRemove() {
        return decisions.stream().filter(ChainDecision::remove).map(ChainDecision::chainId).toList();
    }

    /** The chains kept, oldest first. */
    public List<String> kept() {
        return decisions.stream().filter(d -> !d.remove()).map(ChainDecision::chainId).toList();
    }

    /** The decision on a chain. */
    public ChainDecision decision(String chainId) {
        return decisions.stream().filter(d -> d.chainId().equals(chainId)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no chain " + chainId + " in the plan of " + device));
    }
}

package io.resilientkvm.importer.retention;

import java.util.List;
import java.util.Objects;

/**
 * Retention's verdict on one chain.
 *
 * @param chainId the chain
 * @param remove  true when the whole chain goes
 * @param reasons why (every rule that keeps it, or why it may go)
 */
public record ChainDecision(String chainId, boolean remove, List<String> reasons) {
    public ChainDecision {
        Objects.requireNonNull(chainId, "chainId");
        reasons = List.copyOf(reasons);
        if (reasons.isEmpty()) {
            throw new IllegalArgumentException("a decision on " + chainId + " needs a reason");
        }
    }

    @Override
    public String toString() {
        return chainId + (remove ? " REMOVE: " : " keep: ") + String.join("; ", reasons);
    }
}

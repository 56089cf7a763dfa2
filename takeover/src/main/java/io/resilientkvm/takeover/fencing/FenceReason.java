package io.resilientkvm.takeover.fencing;

import java.time.Instant;
import java.util.Objects;

/**
 * Why a node fenced itself.
 *
 * @param epoch the epoch the node was main of
 */
public record FenceReason(String node, String why, long epoch, Instant at) {
    public FenceReason {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(why, "why");
        Objects.requireNonNull(at, "at");
    }

    @Override
    public String toString() {
        return "node " + node + " fenced at " + at + " (was main of epoch " + epoch + "): " + why;
    }
}

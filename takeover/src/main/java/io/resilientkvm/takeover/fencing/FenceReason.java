package io.resilientkvm.takeover.fencing;

import io.resilientkvm.engine.zk.PublishedText;
import java.time.Instant;
import java.util.Objects;

/**
 * Why a node fenced itself. {@code why} is published in ZooKeeper and quotes errors (a failed
 * promotion's qemu-img text), so it goes through {@link PublishedText}: no control characters,
 * at most about 1 KiB.
 *
 * @param epoch the epoch the node was main of
 */
public record FenceReason(String node, String why, long epoch, Instant at) {
    public FenceReason {
        Objects.requireNonNull(node, "node");
        why = PublishedText.sanitize(Objects.requireNonNull(why, "why"));
        Objects.requireNonNull(at, "at");
    }

    @Override
    public String toString() {
        return "node " + node + " fenced at " + at + " (was main of epoch " + epoch + "): " + why;
    }
}

package io.resilientkvm.takeover.protocol;

import io.resilientkvm.takeover.fencing.FenceReason;
import java.util.Objects;

/**
 * A node marked fenced in ZooKeeper ({@code fenced/NODE}).
 *
 * @param node     the fenced node
 * @param reason   why, and the epoch it was main of (-1 when the marker did not say)
 * @param markedBy the node that wrote the mark: the new main after a takeover, or the node itself
 * @param version  the znode's data version (a clear is conditioned on it)
 */
public record FencedNode(String node, FenceReason reason, String markedBy, int version) {
    public FencedNode {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(markedBy, "markedBy");
    }
}

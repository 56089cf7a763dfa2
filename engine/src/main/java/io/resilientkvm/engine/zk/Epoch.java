package io.resilientkvm.engine.zk;

import java.time.Instant;
import java.util.Objects;

/**
 * The instance's current epoch: the number of promotions so far, and the node it made main.
 * {@code version} is the ZooKeeper data version of the epoch node, used for compare-and-set:
 * a write conditioned on it fails once anyone moved the epoch on.
 */
public record Epoch(long number, String owner, Instant since, int version) {
    public Epoch {
        if (number < 0) {
            throw new IllegalArgumentException("epoch must be >= 0, got " + number);
        }
        Objects.requireNonNull(owner, "owner");
        Objects.requireNonNull(since, "since");
    }
}

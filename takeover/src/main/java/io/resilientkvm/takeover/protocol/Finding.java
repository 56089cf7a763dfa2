package io.resilientkvm.takeover.protocol;

import java.util.Objects;

/**
 * One thing the planner found that speaks against the takeover.
 *
 * @param check       which rule found it
 * @param message     a sentence for the operator: what, where, and what to do
 * @param overridable true when {@code --force} accepts the risk
 */
public record Finding(Check check, String message, boolean overridable) {
    /** The planner's rules (docs/takeover.md). */
    public enum Check {
        /** This node already owns the current epoch. Never overridable. */
        ALREADY_MAIN,
        /** This node is marked fenced; an operator must clear it first. Never overridable. */
        FENCED,
        /** This node published no importer status: it is not a clone that imported anything. Never overridable. */
        NO_STATUS,
        /** This node holds no verified backup of any disk: there is nothing to restore. Never overridable. */
        NOTHING_TO_RESTORE,
        /** This node's status is from an older epoch: it has not followed the current main. */
        STALE_STATUS,
        /** This node holds less than the main published for some disk. */
        BEHIND,
        /** Another clone holds a strictly newer point of some disk. */
        OTHER_CLONE_NEWER,
        /** The current main is still a live member in the main role. */
        MAIN_ALIVE,
        /**
         * This node acknowledged a main cut from ZooKeeper (fail-safe mode) and that promise has
         * not expired: the main may still run. Never overridable.
         */
        ACKNOWLEDGED_MAIN
    }

    public Finding {
        Objects.requireNonNull(check, "check");
        Objects.requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return message;
    }
}

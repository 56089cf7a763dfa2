package io.resilientkvm.takeover.membership;

/** What a node does for its instance. */
public enum Role {
    /** Runs the VM and the exporter; exactly one per epoch. */
    MAIN,
    /** Imports every backup and keeps history; may be promoted. */
    CLONE,
    /** Stopped itself after losing the main role; waits for an operator. */
    FENCED
}

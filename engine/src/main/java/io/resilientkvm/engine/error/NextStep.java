package io.resilientkvm.engine.error;

/**
 * What a caller should do after a failure: the one question a loop asks of an
 * {@link OperatorException} (in the spirit of BookKeeper's replication worker, which branches on
 * retryable, unrecoverable and incompatible). {@link ExitStatus#of(NextStep)} maps it to an exit code.
 */
public enum NextStep {
    /** Transient (network blip, peer unreachable, timeout): try again later, with backoff. */
    RETRY,
    /**
     * This item is bad (SHA-256 or size mismatch, gone from the peer, a broken image): record it,
     * skip it, and try it again only when it changes (a new manifest or epoch) or after a long wait.
     */
    GIVE_UP_ITEM,
    /** Refused for safety: going on could lose or corrupt data; stop until an operator or an event decides. */
    REFUSE,
    /** Bad input from the operator (parameters, configuration, files): fix it and run again. */
    FIX_INPUT
}

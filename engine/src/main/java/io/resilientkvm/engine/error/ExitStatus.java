package io.resilientkvm.engine.error;

/**
 * The exit codes every command shares (see the README), and the one place that maps a failure
 * to its code: {@link #of(Throwable)}.
 */
public enum ExitStatus {
    /** Done. */
    OK(0),
    /** The operation failed; retrying (after fixing the cause, or once the item changed) may work. */
    FAILED(1),
    /** Bad input or usage: parameters, configuration, a damaged backup. */
    BAD_INPUT(2),
    /** Refused for safety: another exporter runs, a clone is behind, an epoch is stale, the node is fenced. */
    REFUSED(3);

    private final int code;

    ExitStatus(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The exit status of a failure whose next step is {@code next}. */
    public static ExitStatus of(NextStep next) {
        return switch (next) {
            case RETRY, GIVE_UP_ITEM -> FAILED;
            case REFUSE -> REFUSED;
            case FIX_INPUT -> BAD_INPUT;
        };
    }

    /** The exit status of any failure: by its next step; an invalid document is bad input; anything else failed. */
    public static ExitStatus of(Throwable failure) {
        if (failure instanceof OperatorException op) {
            return of(op.nextStep());
        }
        if (failure instanceof io.resilientkvm.schemas.InvalidDocumentException) {
            return BAD_INPUT;
        }
        return FAILED;
    }
}

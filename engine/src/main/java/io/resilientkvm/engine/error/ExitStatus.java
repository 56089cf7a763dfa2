package io.resilientkvm.engine.error;

/** The exit codes every command shares (see the README). */
public enum ExitStatus {
    /** Done. */
    OK(0),
    /** The operation failed; retrying after fixing the cause may work. */
    FAILED(1),
    /** Bad input or usage: parameters, configuration, a damaged backup. */
    BAD_INPUT(2),
    /** Refused for safety: another exporter runs, a clone is behind, an epoch is stale. */
    REFUSED(3);

    private final int code;

    ExitStatus(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}

package io.resilientkvm.engine.error;

/**
 * A failure an operator must act on. Its message is the whole story for a terminal: what was
 * wrong, where, and what to do; the CLI prints it without a stack trace and exits with
 * {@link #exitStatus()}.
 */
public abstract class OperatorException extends Exception {
    private static final long serialVersionUID = 1L;

    protected OperatorException(String message) {
        super(message);
    }

    protected OperatorException(String message, Throwable cause) {
        super(message, cause);
    }

    public abstract ExitStatus exitStatus();
}

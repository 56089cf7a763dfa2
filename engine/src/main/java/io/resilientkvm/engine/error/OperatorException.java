package io.resilientkvm.engine.error;

/**
 * A failure an operator must act on. Its message is the whole story for a terminal: what was
 * wrong, where, and what to do; the CLI prints it without a stack trace and exits with
 * {@link #exitStatus()}. Its {@link #nextStep()} tells a loop what to do next; the kinds are
 * {@link BadInputException}, {@link RefusedException} and {@link OperationFailedException} with
 * its two precise forms {@link RetryableException} and {@link GiveUpException}.
 */
public abstract class OperatorException extends Exception {
    private static final long serialVersionUID = 1L;

    protected OperatorException(String message) {
        super(message);
    }

    protected OperatorException(String message, Throwable cause) {
        super(message, cause);
    }

    /** What a caller should do next. */
    public abstract NextStep nextStep();

    /** The exit code for this failure (mapped in {@link ExitStatus#of(NextStep)}, nowhere else). */
    public final ExitStatus exitStatus() {
        return ExitStatus.of(nextStep());
    }
}

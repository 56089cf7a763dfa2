package io.resilientkvm.engine.error;

/**
 * The operation failed (exit code 1): nothing was wrong with the input, and a retry may work.
 * Without more to say it is retried like {@link RetryableException}; {@link GiveUpException} says
 * that retrying the same item cannot help.
 */
public class OperationFailedException extends OperatorException {
    private static final long serialVersionUID = 1L;

    public OperationFailedException(String message) {
        super(message);
    }

    public OperationFailedException(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    public NextStep nextStep() {
        return NextStep.RETRY;
    }
}

package io.resilientkvm.engine.error;

/**
 * A transient failure (network blip, peer unreachable, timeout, retries of one call exhausted):
 * the same work may succeed later, so a loop tries again with backoff. Exit code 1.
 */
public class RetryableException extends OperationFailedException {
    private static final long serialVersionUID = 1L;

    public RetryableException(String message) {
        super(message);
    }

    public RetryableException(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    public NextStep nextStep() {
        return NextStep.RETRY;
    }
}

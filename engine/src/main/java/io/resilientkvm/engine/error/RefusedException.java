package io.resilientkvm.engine.error;

/** Refused for safety: doing it could lose or corrupt data (exit code 3). */
public class RefusedException extends OperatorException {
    private static final long serialVersionUID = 1L;

    public RefusedException(String message) {
        super(message);
    }

    public RefusedException(String message, Throwable cause) {
        super(message, cause);
    }

    @Override
    public NextStep nextStep() {
        return NextStep.REFUSE;
    }
}

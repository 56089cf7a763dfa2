package io.resilientkvm.engine.qmp;

/** No answer (or no awaited event) came within the deadline. The command may still run in QEMU. */
public final class QmpTimeoutException extends QmpException {
    private static final long serialVersionUID = 1L;

    public QmpTimeoutException(String message) {
        super(message);
    }
}

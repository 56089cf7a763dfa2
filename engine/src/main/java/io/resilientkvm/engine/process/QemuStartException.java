package io.resilientkvm.engine.process;

import java.io.IOException;

/** QEMU could not be started, exited during start, or never answered QMP. Carries its output. */
public final class QemuStartException extends IOException {
    private static final long serialVersionUID = 1L;

    public QemuStartException(String message) {
        super(message);
    }

    public QemuStartException(String message, Throwable cause) {
        super(message, cause);
    }
}

package io.resilientkvm.engine.qmp;

import java.io.IOException;

/** Base of every QMP failure: the connection, a timeout, or an error reply from QEMU. */
public class QmpException extends IOException {
    private static final long serialVersionUID = 1L;

    public QmpException(String message) {
        super(message);
    }

    public QmpException(String message, Throwable cause) {
        super(message, cause);
    }
}

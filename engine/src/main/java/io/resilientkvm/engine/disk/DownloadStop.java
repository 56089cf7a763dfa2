package io.resilientkvm.engine.disk;

import java.io.IOException;

/** A download stopped on purpose (cap, deadline, refused reference): its message is the operator's. */
final class DownloadStop extends IOException {
    private static final long serialVersionUID = 1L;
    final boolean refused;

    DownloadStop(String message, boolean refused) {
        super(message);
        this.refused = refused;
    }
}

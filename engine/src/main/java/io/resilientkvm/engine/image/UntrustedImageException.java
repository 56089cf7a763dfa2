package io.resilientkvm.engine.image;

import io.resilientkvm.engine.error.RefusedException;

/**
 * An image whose header is malformed or refers to something it must not (a host path, a
 * pseudo-protocol, an external data file, another parent): refused before qemu-img or QEMU
 * opened anything. The message names the file and what it referred to.
 */
public final class UntrustedImageException extends RefusedException {
    private static final long serialVersionUID = 1L;

    public UntrustedImageException(String message) {
        super(message);
    }
}

package io.resilientkvm.node.peer;

/**
 * A handler's refusal of one request, answered with {@code status} (4xx) and {@code message} as
 * {@code {"error": message}}; the client sees it as {@link PeerResult.Kind#REFUSED}.
 */
public final class PeerRequestException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int status;

    public PeerRequestException(int status, String message) {
        super(message);
        if (status < 400 || status > 499) {
            throw new IllegalArgumentException("a refusal is a 4xx status, not " + status);
        }
        this.status = status;
    }

    public int status() {
        return status;
    }
}

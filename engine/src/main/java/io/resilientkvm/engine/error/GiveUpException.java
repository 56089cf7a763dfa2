package io.resilientkvm.engine.error;

/**
 * This item is bad and retrying it as it is cannot help: a SHA-256 or size that does not match
 * its manifest, a file its peer no longer has (404), a structurally broken image. A loop records
 * it, skips it, and tries it again only when it changes (a new manifest or epoch) or after a long
 * wait; it does not retry it like a network blip. Exit code 1.
 */
public class GiveUpException extends OperationFailedException {
    private static final long serialVersionUID = 1L;

    public GiveUpException(String message) {
        super(message);
    }

    @Override
    public NextStep nextStep() {
        return NextStep.GIVE_UP_ITEM;
    }
}

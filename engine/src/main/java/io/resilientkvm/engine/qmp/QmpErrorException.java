package io.resilientkvm.engine.qmp;

/**
 * QEMU answered a command with an error object. Carries QEMU's error class
 * (e.g. {@code GenericError}, {@code DeviceNotFound}) and its description.
 */
public final class QmpErrorException extends QmpException {
    private static final long serialVersionUID = 1L;

    private final String command;
    private final String errorClass;
    private final String description;

    public QmpErrorException(String command, String errorClass, String description) {
        super("QEMU refused '" + command + "': " + description + " (" + errorClass + ")");
        this.command = command;
        this.errorClass = errorClass;
        this.description = description;
    }

    public String command() {
        return command;
    }

    public String errorClass() {
        return errorClass;
    }

    public String description() {
        return description;
    }
}

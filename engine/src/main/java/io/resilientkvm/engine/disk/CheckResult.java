package io.resilientkvm.engine.disk;

/**
 * The outcome of {@code qemu-img check}.
 *
 * @param status what the exit code means
 * @param output what qemu-img printed (stdout then stderr), for the operator
 */
public record CheckResult(Status status, String output) {
    /** The exit codes of {@code qemu-img check} that describe the image (1 is an error, thrown instead). */
    public enum Status {
        /** Exit 0: no errors. */
        OK,
        /** Exit 2: the image is corrupted. */
        CORRUPTED,
        /** Exit 3: leaked clusters only; harmless but waste space. */
        LEAKS,
        /** Exit 63: the format does not support checks (e.g. raw). */
        UNSUPPORTED
    }

    public boolean ok() {
        return status == Status.OK || status == Status.UNSUPPORTED;
    }
}

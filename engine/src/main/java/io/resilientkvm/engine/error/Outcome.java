package io.resilientkvm.engine.error;

import java.util.Objects;

/**
 * How a long-running operation ended, typed: the exit status and a line saying why. A command
 * returns {@code status().code()}; nobody compares message texts to choose an exit code.
 */
public record Outcome(ExitStatus status, String message) {
    public Outcome {
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(message, "message");
    }

    /** Ended normally. */
    public static Outcome done(String message) {
        return new Outcome(ExitStatus.OK, message);
    }

    /** Ended because going on was refused for safety (for example: the node is fenced). */
    public static Outcome refused(String message) {
        return new Outcome(ExitStatus.REFUSED, message);
    }
}

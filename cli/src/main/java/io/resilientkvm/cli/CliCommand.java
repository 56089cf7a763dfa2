package io.resilientkvm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.engine.error.ExitStatus;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The part every command shares: the {@link CommonOptions}, its output streams, printing a result
 * as JSON (Jackson) or as text, and the exit code, which is always an {@link ExitStatus}. Failures
 * are thrown, and {@link CommandRunner} maps them through {@link ExitStatus#of}.
 */
public abstract class CliCommand implements Callable<Integer> {
    /** The mapper of every command's JSON output. */
    protected static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    /** Does the command's work; returns how it ended (thrown failures are mapped by {@link CommandRunner}). */
    protected abstract ExitStatus execute() throws Exception;

    @Override
    public final Integer call() throws Exception {
        ExitStatus status = execute();
        out().flush();
        err().flush();
        return status.code();
    }

    /** Standard output (the test's writer under {@link CommandRunner#run(Object, PrintWriter, PrintWriter, String...)}). */
    protected final PrintWriter out() {
        return spec.commandLine().getOut();
    }

    /** Standard error. */
    protected final PrintWriter err() {
        return spec.commandLine().getErr();
    }

    /** This command's picocli model (its parsed options, for errors naming the command). */
    protected final CommandSpec spec() {
        return spec;
    }

    /** Prints {@code value} as pretty-printed JSON (a Jackson tree or any value Jackson maps) and flushes. */
    protected final void printJson(Object value) throws Exception {
        out().println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(value));
        out().flush();
    }

    /** Prints {@code value} as JSON when {@code asJson} (the command's {@code --json}), else {@code text}; flushes. */
    protected final void print(boolean asJson, Object value, String text) throws Exception {
        if (asJson) {
            printJson(value);
        } else {
            out().println(text);
            out().flush();
        }
    }
}

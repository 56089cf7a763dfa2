package io.resilientkvm.cli;

import ch.qos.logback.classic.Level;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.importer.transfer.TransferTuning;
import java.io.PrintWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * Runs a picocli command with the project's exit-code contract: 0 done, 1 failed, 2 bad input
 * or usage (one line per problem, no stack trace), 3 refused for safety.
 */
public final class CommandRunner {
    private static final Logger LOG = LoggerFactory.getLogger(CommandRunner.class);

    private CommandRunner() {}

    /** Runs {@code command} with {@code args} and returns the exit code; does not exit. */
    public static int run(Object command, String... args) {
        return run(command, null, null, args);
    }

    /** As {@link #run(Object, String...)}, writing to {@code out} and {@code err} (tests); null keeps the console. */
    public static int run(Object command, PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(command)
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setUsageHelpAutoWidth(true)
                .setExecutionStrategy(CommandRunner::executeWithVerbosity)
                .setParameterExceptionHandler(CommandRunner::usageError)
                .setExecutionExceptionHandler((e, cmd, parsed) -> failure(e, cmd.getErr()));
        cli.setExitCodeExceptionMapper(CommandRunner::exitCodeOf);
        if (out != null) {
            cli.setOut(out);
        }
        if (err != null) {
            cli.setErr(err);
        }
        return cli.execute(args);
    }

    /** Runs and exits the JVM with the command's exit code. */
    public static void main(Object command, String... args) {
        // JVM-wide, so set here and not in a library: a fetching JVM wants larger socket buffers.
        TransferTuning.applyToJvm();
        System.exit(run(command, args));
    }

    private static int executeWithVerbosity(CommandLine.ParseResult parsed) {
        CommandLine.ParseResult leaf = parsed;
        boolean verbose = false;
        for (CommandLine.ParseResult r = parsed; r != null; r = r.subcommand()) {
            verbose |= r.hasMatchedOption("--verbose");
            leaf = r;
        }
        if (verbose && LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME) instanceof ch.qos.logback.classic.Logger root) {
            root.setLevel(Level.DEBUG);
        }
        LOG.debug("running {}", leaf.commandSpec().qualifiedName());
        return new CommandLine.RunLast().execute(parsed);
    }

    private static int usageError(CommandLine.ParameterException e, String[] args) {
        PrintWriter err = e.getCommandLine().getErr();
        err.println(e.getCommandLine().getCommandName() + ": " + e.getMessage());
        err.println("Try '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help' for usage.");
        err.flush();
        return ExitStatus.BAD_INPUT.code();
    }

    private static int failure(Exception e, PrintWriter err) {
        if (e instanceof io.resilientkvm.schemas.InvalidDocumentException bad) {
            bad.problems().forEach(err::println);
            err.flush();
            return ExitStatus.BAD_INPUT.code();
        }
        if (e instanceof OperatorException op) {
            ExitStatus status = ExitStatus.of(op);
            String prefix = status == ExitStatus.BAD_INPUT ? "" : (status == ExitStatus.REFUSED ? "refused: " : "failed: ");
            for (String line : op.getMessage().split("\\R")) {
                err.println(prefix + line);
            }
            LOG.debug("details", e);
        } else {
            err.println("failed: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
            LOG.debug("details", e);
            err.println("(run again with --verbose for details)");
        }
        err.flush();
        return exitCodeOf(e);
    }

    private static int exitCodeOf(Throwable e) {
        return ExitStatus.of(e).code();
    }
}

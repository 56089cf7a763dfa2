package io.resilientkvm.cli;

import picocli.CommandLine.Option;

/** Options every command has; {@link CommandRunner} acts on {@code --verbose} before the command runs. */
public final class CommonOptions {
    @Option(names = "--verbose", description = "log details (DEBUG) on stderr")
    boolean verbose;
}

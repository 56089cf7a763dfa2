package io.resilientkvm.cli.kvm;

import io.resilientkvm.cli.CommandRunner;
import picocli.CommandLine.Command;

/** {@code bin/kvm}: validate instance parameters, show the QEMU command line, run the VM. */
@Command(name = "kvm", mixinStandardHelpOptions = true, versionProvider = io.resilientkvm.cli.Version.class,
        description = "Runs a KVM virtual machine from SlapOS-style instance parameters.",
        subcommands = {ValidateCommand.class, CmdlineCommand.class, RunCommand.class, SchemaCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:done", "1:the operation failed", "2:bad input or usage (one line per problem)", "3:refused for safety"})
public final class KvmCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        CommandRunner.main(new KvmCommand(), args);
    }

    @Override
    public void run() {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "a command is required: validate, cmdline, run or schema");
    }
}

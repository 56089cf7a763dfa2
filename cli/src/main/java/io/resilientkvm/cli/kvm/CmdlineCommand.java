package io.resilientkvm.cli.kvm;

import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.params.ParameterFiles;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "cmdline", mixinStandardHelpOptions = true,
        description = {"Prints the QEMU argv that 'run' would start, as a JSON array.",
                "Creates, downloads and starts nothing."})
final class CmdlineCommand extends CliCommand {
    @Mixin
    ParametersOptions params;

    @Mixin
    InstanceOptions instance;

    @Option(names = "--shell", description = "print a shell-quoted command line instead of JSON")
    boolean shell;

    @Override
    protected ExitStatus execute() throws Exception {
        NodeConfig node = instance.node();
        var p = ParameterFiles.load(params.file, params.schemaKind());
        List<String> argv = KvmInstance.commandLine(instance.name(node), p.kvm(), instance.host(node), instance.layout(node));
        print(!shell, argv, String.join(" ", argv.stream().map(CmdlineCommand::quote).toList()));
        return ExitStatus.OK;
    }

    static String quote(String s) {
        return s.matches("[A-Za-z0-9_./:=,@+-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }
}

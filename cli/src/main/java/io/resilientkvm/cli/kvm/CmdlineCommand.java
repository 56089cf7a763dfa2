package io.resilientkvm.cli.kvm;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.params.ParameterFiles;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "cmdline", mixinStandardHelpOptions = true,
        description = {"Prints the QEMU argv that 'run' would start, as a JSON array.",
                "Creates, downloads and starts nothing."})
final class CmdlineCommand implements Callable<Integer> {
    @Mixin
    ParametersOptions params;

    @Mixin
    InstanceOptions instance;

    @Option(names = "--shell", description = "print a shell-quoted command line instead of JSON")
    boolean shell;

    @Mixin
    io.resilientkvm.cli.CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        NodeConfig node = instance.node();
        var p = ParameterFiles.load(params.file, params.schemaKind());
        List<String> argv = KvmInstance.commandLine(instance.name(node), p.kvm(), instance.host(node), instance.layout(node));
        var out = spec.commandLine().getOut();
        if (shell) {
            out.println(String.join(" ", argv.stream().map(CmdlineCommand::quote).toList()));
        } else {
            out.println(new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(argv));
        }
        out.flush();
        return ExitStatus.OK.code();
    }

    static String quote(String s) {
        return s.matches("[A-Za-z0-9_./:=,@+-]+") ? s : "'" + s.replace("'", "'\\''") + "'";
    }
}

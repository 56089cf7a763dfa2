package io.resilientkvm.cli.kvm;

import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.params.ParameterFiles;
import io.resilientkvm.engine.process.RestartPolicy;
import io.resilientkvm.engine.process.VmSupervisor;
import io.resilientkvm.engine.qemu.QemuCommandLine;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Prepares the instance (directories, disks, VNC password, guest files) and runs the VM under supervision:",
                "a crashed QEMU is restarted with backoff; SIGTERM or Ctrl-C stops it with QMP quit, which saves dirty bitmaps."})
final class RunCommand extends CliCommand {
    @Mixin
    ParametersOptions params;

    @Mixin
    InstanceOptions instance;

    @Option(names = "--no-restart", description = "do not restart QEMU when it dies")
    boolean noRestart;

    @Option(names = "--stop-after", paramLabel = "SECONDS",
            description = "stop the VM cleanly after this many seconds (smoke tests, demos); default: run until stopped")
    Long stopAfter;

    @Override
    protected ExitStatus execute() throws Exception {
        NodeConfig node = instance.node();
        var p = ParameterFiles.load(params.file, params.schemaKind()).kvm();
        String name = instance.name(node);
        var layout = instance.layout(node);
        try (KvmInstance vm = KvmInstance.prepare(name, p, instance.host(node), layout)) {
            Thread hook = new Thread(vm::close, "kvm-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            VmSupervisor supervisor = vm.start(noRestart ? RestartPolicy.NEVER : RestartPolicy.DEFAULT);
            var out = out();
            out.println("VM " + name + " running (pid " + supervisor.current().map(q -> Long.toString(q.pid())).orElse("?") + ")");
            out.println("  QMP        " + layout.qmpSocket() + "  (exporter: " + layout.backupQmpSocket() + ")");
            out.println("  VNC        " + ("unix".equals(instance.host(node).vncListen()) ? layout.vncSocket() : instance.host(node).vncListen())
                    + "  password in " + instance.host(node).vncPasswordFile().orElse(layout.vncPasswordFile()));
            out.println("  NAT ports  " + QemuCommandLine.natHostPorts(p));
            out.println("  log        " + layout.qemuLog());
            out.flush();
            VmSupervisor.Termination end;
            try {
                end = stopAfter == null ? supervisor.termination().get()
                        : supervisor.termination().get(stopAfter, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                vm.close();
                end = supervisor.termination().get(Duration.ofMinutes(2).toSeconds(), TimeUnit.SECONDS);
            }
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down
            }
            if (end.state() == VmSupervisor.State.GAVE_UP) {
                throw new OperationFailedException("VM " + name + " kept crashing and was given up: " + end.reason() + " (log: " + layout.qemuLog() + ")");
            }
            err().println("VM " + name + " stopped: " + end.reason());
            return ExitStatus.OK;
        }
    }
}

package io.resilientkvm.drill;

import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bin/drill}: a whole disaster-recovery drill on one machine. */
@Command(name = "drill", mixinStandardHelpOptions = true, versionProvider = io.resilientkvm.cli.Version.class,
        description = {"Runs a disaster-recovery drill on this machine: an embedded ZooKeeper, a main and two clones as",
                "separate processes with a real QEMU VM, a workload of logged writes, scheduled backups, SIGKILL of the main,",
                "bin/takeover on a clone, and byte-for-byte checks of the new VM's disk; each round repeats it with the next node.",
                "Exit codes: 0 every check passed, 1 a check or step failed (the scratch folder and logs are kept), 2 bad options."})
public final class DrillCommand extends CliCommand {
    @Option(names = "--disk-size", paramLabel = "MiB", defaultValue = "256", description = "size of the VM's blank disk in MiB; default ${DEFAULT-VALUE}")
    long diskMiB;

    @Option(names = "--rounds", defaultValue = "2", description = "takeovers to run one after the other; default ${DEFAULT-VALUE}")
    int rounds;

    @Option(names = "--backups", defaultValue = "3", description = "backups per round before the main is killed (a full, then incrementals); default ${DEFAULT-VALUE}")
    int backups;

    @Option(names = "--interval", paramLabel = "SECONDS", defaultValue = "5", description = "backup period, dividing 60; default ${DEFAULT-VALUE}")
    int interval;

    @Option(names = "--dir", paramLabel = "DIR", description = "scratch folder (default: a new temporary folder)")
    Path dir;

    @Option(names = "--keep", description = "keep the scratch folder after a successful drill (always kept after a failure)")
    boolean keep;

    @Option(names = "--zookeeper", paramLabel = "HOST:PORT", description = "an external ZooKeeper instead of the embedded one")
    String zookeeper;

    @Option(names = "--accel", defaultValue = "auto", description = "auto (KVM when usable, else TCG), kvm or tcg; default ${DEFAULT-VALUE}")
    String accel;

    @Option(names = "--workload", defaultValue = "guest", description = "guest (a tiny Linux guest writing fsync'ed journals on two"
            + " disks and serving HTTP; built at first use from Debian packages) or qemu-io (patterns written through QMP, no OS:"
            + " faster); default ${DEFAULT-VALUE}")
    String workload;

    @Option(names = "--guest-load", description = "with the guest: also run its bulk writer (load) and report its throughput")
    boolean guestLoad;

    @Option(names = "--json", description = "print the final report as JSON")
    boolean json;

    public static void main(String[] args) {
        CommandRunner.main(new DrillCommand(), args);
    }

    @Override
    protected ExitStatus execute() throws Exception {
        if (diskMiB < 16 || Long.bitCount(diskMiB) != 1) {
            throw new BadInputException("--disk-size " + diskMiB + ": give a power of two of at least 16 MiB (e.g. 256, 1024)");
        }
        if (rounds < 1 || rounds > 10) {
            throw new BadInputException("--rounds " + rounds + ": give 1 to 10");
        }
        if (backups < 1 || backups > 50) {
            throw new BadInputException("--backups " + backups + ": give 1 to 50");
        }
        if (interval < 1 || interval > 59 || 60 % interval != 0) {
            throw new BadInputException("--interval " + interval + ": give a number of seconds dividing 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)");
        }
        if (!accel.matches("auto|kvm|tcg")) {
            throw new BadInputException("--accel " + accel + ": give auto, kvm or tcg");
        }
        if (!workload.matches("guest|qemu-io")) {
            throw new BadInputException("--workload " + workload + ": give guest or qemu-io");
        }
        if (guestLoad && !"guest".equals(workload)) {
            throw new BadInputException("--guest-load needs --workload guest");
        }
        PrintWriter out = out();
        DrillOptions options = new DrillOptions(diskMiB << 20, rounds, backups, interval, Optional.ofNullable(dir), keep,
                Optional.ofNullable(zookeeper), accel, workload, guestLoad);
        DrillReport report;
        try (Drill drill = new Drill(options, json ? new PrintWriter(err(), true) : out)) {
            // Ctrl-C or SIGTERM: stop every process the drill started before the JVM goes.
            Thread hook = new Thread(drill::close, "drill-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            report = drill.run();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running
            }
        }
        print(json, report.json(), System.lineSeparator() + report.table());
        return report.passed() ? ExitStatus.OK : ExitStatus.FAILED;
    }
}

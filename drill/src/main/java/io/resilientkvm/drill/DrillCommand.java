package io.resilientkvm.drill;

import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.drill.guest.GuestImage;
import io.resilientkvm.drill.netns.NetBed;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
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

    @Option(names = "--hosts", description = "run the nodes on three hosts made of Linux network namespaces (198.18.0.1-3, root"
            + " only): a 3-server ZooKeeper ensemble, one server per host, with ACLs; backup servers and NAT forwards on each"
            + " host's address; the drill's checks from an operator host (198.18.0.10)")
    boolean hosts;

    @Option(names = "--disaster", defaultValue = "kill", description = "kill (SIGKILL of the main's agent and VM) or, with --hosts,"
            + " cut (the main's host link down: it must fence itself; the link comes back after the takeover and the old main"
            + " rejoins as a clone); default ${DEFAULT-VALUE}")
    String disaster;

    /** Set by the bed's owner when it runs the drill on the operator host (see {@link #onBed}). */
    @Option(names = "--bed", hidden = true, paramLabel = "ID")
    String bed;

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
        if (!disaster.matches("kill|cut")) {
            throw new BadInputException("--disaster " + disaster + ": give kill or cut");
        }
        if ("cut".equals(disaster) && !hosts) {
            throw new BadInputException("--disaster cut needs --hosts: a link can only be cut between namespaced hosts");
        }
        if (hosts && zookeeper != null) {
            throw new BadInputException("--zookeeper with --hosts: the namespace drill runs its own ensemble on the hosts; give one or the other");
        }
        if (bed != null && !hosts) {
            throw new BadInputException("--bed is set by bin/drill --hosts itself; run bin/drill --hosts");
        }
        if (hosts && bed == null) {
            NetBed.requireRoot();
            return onBed();
        }
        PrintWriter out = out();
        DrillOptions options = new DrillOptions(diskMiB << 20, rounds, backups, interval, Optional.ofNullable(dir), keep,
                Optional.ofNullable(zookeeper), accel, workload, guestLoad, disaster, Optional.ofNullable(bed));
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

    /**
     * {@code --hosts}: this JVM owns the bed (three hosts and the operator host; deleted on close
     * and at JVM exit, whatever happens) and runs the drill itself, with these options, as a JVM on
     * the operator host: from there it reaches the hosts' ZooKeeper servers and forwards over the
     * bed like any other host, and the root namespace is never touched. Its report comes out here.
     */
    private ExitStatus onBed() throws IOException, InterruptedException, OperatorException {
        if ("guest".equals(workload)) {
            // Built here if missing: the bed's hosts reach no package mirror (nothing they send leaves the bed).
            GuestImage.obtain(line -> err().println(line));
        }
        List<String> args = new ArrayList<>(spec().commandLine().getParseResult().originalArgs());
        args.addAll(Arrays.asList("--bed", ""));
        try (NetBed netBed = NetBed.create(DrillCluster.NODES.size(), true)) {
            args.set(args.size() - 1, netBed.id());
            Process drill = netBed.startPiped(netBed.operator().orElseThrow(),
                    NetBed.java(List.of("-Xmx256m",
                            // The commands' logging (to stderr): stdout carries the report, JSON with --json.
                            "-Dlogback.configurationFile=logback.xml"), DrillCommand.class.getName(), args), ProcessBuilder.Redirect.INHERIT);
            drill.getOutputStream().close();
            PrintWriter out = out();
            Thread copy = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(drill.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null;) {
                        out.println(line);
                        out.flush();
                    }
                } catch (IOException e) {
                    // the drill ended: its exit status says how
                }
            }, "drill-output");
            copy.start();
            // Every step of the drill has its own deadline; this one only bounds a drill that hangs.
            long bound = 30L * (rounds + 1);
            if (!drill.waitFor(bound, TimeUnit.MINUTES)) {
                throw new OperationFailedException("the drill on the operator host did not end within " + bound + " minutes");
            }
            copy.join(TimeUnit.SECONDS.toMillis(30));
            int code = drill.exitValue();
            return Arrays.stream(ExitStatus.values()).filter(x -> x.code() == code).findFirst().orElse(ExitStatus.FAILED);
        }
    }
}

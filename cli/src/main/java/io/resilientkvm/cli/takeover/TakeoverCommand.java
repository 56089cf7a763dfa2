package io.resilientkvm.cli.takeover;

import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import io.resilientkvm.takeover.protocol.Confirmation;
import io.resilientkvm.takeover.protocol.DevicePlan;
import io.resilientkvm.takeover.protocol.StepReport;
import io.resilientkvm.takeover.protocol.Takeover;
import io.resilientkvm.takeover.protocol.TakeoverOptions;
import io.resilientkvm.takeover.fencing.FailsafeAck;
import io.resilientkvm.takeover.protocol.TakeoverPlan;
import io.resilientkvm.takeover.protocol.TakeoverResult;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.Console;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Locale;
import org.apache.curator.framework.CuratorFramework;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bin/takeover --config NODE.json}: promotes this clone to main. The ZooKeeper protocol
 * (lock, plan, epoch compare-and-set, fence mark) runs here; the promotion itself (instant
 * restore, VM, exporter, backup server) is done by this node's running agent ({@code bin/node}),
 * which sees the epoch name it the owner; this command waits until the agent announces the VM
 * running as main of the new epoch.
 */
@Command(name = "takeover", mixinStandardHelpOptions = true, versionProvider = io.resilientkvm.cli.Version.class,
        subcommands = {StatusCommand.class, ClearFenceCommand.class},
        description = {"Promotes this clone to main of its instance: takes the takeover lock, checks that this clone is the most",
                "up to date and not behind the main's newest backup, moves the epoch (compare-and-set: one winner), fences the old",
                "main, and waits for this node's agent (bin/node) to run the VM on the newest verified backup.",
                "Exit codes: 0 done, 1 failed, 2 bad input, 3 refused for safety (behind, another clone newer, main alive; --force)."})
public final class TakeoverCommand extends CliCommand {
    @Mixin
    ClusterOptions cluster;

    @Option(names = "--force", description = "accept the risks the checks report (lost backups, a newer clone, a live main)")
    boolean force;

    @Option(names = {"--yes", "-y"}, description = "do not ask for confirmation")
    boolean yes;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "180",
            description = "how long to wait for the VM to run on this node; default ${DEFAULT-VALUE}")
    long timeoutSeconds;

    @Option(names = "--json", description = "print the result as JSON")
    boolean json;

    public static void main(String[] args) {
        CommandRunner.main(new TakeoverCommand(), args);
    }

    @Override
    protected ExitStatus execute() throws Exception {
        PrintWriter out = out();
        String node = cluster.node().node();
        ZkLayout layout = cluster.layout();
        try (CuratorFramework client = cluster.connect()) {
            MemberInfo self = Membership.list(client, layout).get(node);
            if (self == null) {
                throw new RefusedException("the agent of " + node + " is not running: start it first (bin/node --config "
                        + cluster.config + "); it restores the data and runs the VM once this command makes it the main");
            }
            if (!yes && System.console() == null) {
                throw new BadInputException("no terminal to confirm the takeover on: run it interactively, or add --yes");
            }
            Confirmation confirmation = yes ? Confirmation.YES : plan -> ask(plan, out);
            Takeover takeover = new Takeover(client, layout, node, TakeoverOptions.defaults().withForce(force)
                    .withWatchdogLease(cluster.node().vmWatchdog().lease())
                    .withFailsafeAckFile(FailsafeAck.file(cluster.node().layout())));
            TakeoverResult result = takeover.run(confirmation, (plan, epoch) -> awaitAgent(client, layout, node, epoch),
                    step -> {
                        if (!json) {
                            out.println("  " + step);
                            out.flush();
                        }
                    });
            print(json, toJson(result), result.toString());
            return ExitStatus.OK;
        }
    }

    private boolean ask(TakeoverPlan plan, PrintWriter out) {
        Console console = System.console();
        out.println(plan);
        out.flush();
        String answer = console.readLine("Take over as main? Type 'yes' to go on: ");
        return answer != null && answer.strip().equalsIgnoreCase("yes");
    }

    /** The promotion step: this node's agent restores and starts the VM, then announces MAIN of {@code epoch}. */
    private void awaitAgent(CuratorFramework client, ZkLayout layout, String node, Epoch epoch) throws OperatorException {
        long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
        long goneSince = 0;
        while (System.nanoTime() < deadline) {
            MemberInfo m = Membership.list(client, layout).get(node);
            if (m != null && m.role() == Role.MAIN && m.epoch() == epoch.number()) {
                return;
            }
            if (m == null) {
                // Gone for longer than a session (a reconnect re-creates it at once): the agent stopped.
                goneSince = goneSince == 0 ? System.nanoTime() : goneSince;
                if (System.nanoTime() - goneSince > cluster.node().zookeeper().sessionTimeout().toNanos()) {
                    throw new OperationFailedException("the agent of " + node + " stopped while it promoted itself (its"
                            + " member znode is gone); see its log, then restart it: it resumes as the main of epoch "
                            + epoch.number() + " unless it fenced itself");
                }
            } else {
                goneSince = 0;
            }
            if (m != null && m.role() == Role.FENCED) {
                throw new OperationFailedException("the agent of " + node + " failed to promote itself and fenced itself;"
                        + " see its log, fix the cause, then clear its fence (bin/takeover clear-fence --config ...)");
            }
            try {
                Thread.sleep(50); // polling the member znode; the deadline bounds it
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new OperationFailedException("interrupted while waiting for the agent of " + node, e);
            }
        }
        throw new OperationFailedException("the agent of " + node + " did not announce the VM running as main of epoch "
                + epoch.number() + " within " + timeoutSeconds + " s; see its log. The epoch is already moved: this node"
                + " is the main, and its agent keeps trying");
    }

    private static ObjectNode toJson(TakeoverResult r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("node", r.plan().node());
        o.put("oldEpoch", r.oldEpoch().number());
        o.put("newEpoch", r.newEpoch().number());
        o.put("oldMain", r.oldMain());
        o.put("oldMainFenced", r.oldMainFenced());
        o.put("rpoSeconds", r.rpo().toMillis() / 1000.0);
        o.put("rtoSeconds", r.rto().toMillis() / 1000.0);
        ArrayNode devices = o.putArray("restored");
        for (DevicePlan d : r.restored()) {
            ObjectNode dn = devices.addObject().put("device", d.device());
            if (d.restore() != null) {
                dn.put("chain", d.restore().chainId()).put("sequence", d.restore().sequence()).put("file", d.restore().file())
                        .put("taken", d.restore().takenAt().toString());
            }
        }
        ArrayNode steps = o.putArray("steps");
        for (StepReport s : r.steps()) {
            steps.addObject().put("step", s.step().name().toLowerCase(Locale.ROOT)).put("status", s.status().name())
                    .put("millis", s.millis()).put("detail", s.detail());
        }
        return o;
    }
}

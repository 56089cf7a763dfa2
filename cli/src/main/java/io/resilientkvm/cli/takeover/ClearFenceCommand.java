package io.resilientkvm.cli.takeover;

import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.takeover.fencing.FenceMarker;
import io.resilientkvm.takeover.protocol.FencedNode;
import io.resilientkvm.takeover.protocol.FencedNodes;
import java.io.PrintWriter;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bin/takeover clear-fence --config NODE.json}: lets a fenced node rejoin as a clone. */
@Command(name = "clear-fence", mixinStandardHelpOptions = true,
        description = {"Clears this node's fenced state (in ZooKeeper and its local marker) so that its agent rejoins as a clone",
                "and re-imports from the current main. Refused while it still owns the epoch or announces the main role."})
public final class ClearFenceCommand extends CliCommand {
    @Mixin
    ClusterOptions cluster;

    @Option(names = {"--yes", "-y"}, description = "do not ask for confirmation")
    boolean yes;

    @Option(names = "--even-if-owner", description = "clear even though this node still owns the current epoch (no clone took over)")
    boolean evenIfOwner;

    @Override
    protected ExitStatus execute() throws Exception {
        PrintWriter out = out();
        String node = cluster.node().node();
        if (!yes) {
            java.io.Console console = System.console();
            if (console == null) {
                throw new BadInputException("no terminal to confirm on: run it interactively, or add --yes");
            }
            String answer = console.readLine("Clear the fence of %s so it rejoins as a clone? Type 'yes': ", node);
            if (answer == null || !answer.strip().equalsIgnoreCase("yes")) {
                out.println("nothing changed");
                return ExitStatus.OK;
            }
        }
        FenceMarker marker = FenceMarker.of(cluster.node().layout());
        try (CuratorFramework client = cluster.connect()) {
            Optional<FencedNode> cleared = new FencedNodes(client, cluster.layout()).clear(node, evenIfOwner);
            boolean local = marker.isFenced();
            marker.clear();
            if (cleared.isEmpty() && !local) {
                out.println(node + " was not fenced");
            } else {
                out.println(node + ": fence cleared" + cleared.map(f -> " (was: " + f.reason().why() + ")").orElse("")
                        + "; start its agent (bin/node --config " + cluster.config + ") and it rejoins as a clone");
            }
        }
        return ExitStatus.OK;
    }
}

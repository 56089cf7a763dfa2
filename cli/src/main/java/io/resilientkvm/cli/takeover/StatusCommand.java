package io.resilientkvm.cli.takeover;

import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.takeover.protocol.TakeoverStatus;
import java.time.Clock;
import org.apache.curator.framework.CuratorFramework;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code bin/takeover status} (also {@code bin/importer status}): epoch, members, each clone's lag, fenced nodes. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = {"Prints the instance as ZooKeeper sees it: the epoch and its main, the members and their roles, per disk",
                "the newest published backup and each clone's newest verified point with its lag and last error, fenced nodes."})
public final class StatusCommand extends CliCommand {
    @Mixin
    ClusterOptions cluster;

    @Override
    protected ExitStatus execute() throws Exception {
        try (CuratorFramework client = cluster.connect()) {
            out().println(TakeoverStatus.read(client, cluster.layout(), Clock.systemUTC()).table());
        }
        return ExitStatus.OK;
    }
}

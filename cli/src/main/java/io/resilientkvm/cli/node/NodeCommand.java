package io.resilientkvm.cli.node;

import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.Outcome;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.node.NodeAgent;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bin/node --config NODE.json}: runs this node's agent in a resilient instance. */
@Command(name = "node", mixinStandardHelpOptions = true, versionProvider = io.resilientkvm.cli.Version.class,
        subcommands = SecretsCommand.class,
        description = {"Runs this node of a resilient instance: the owner of the current epoch in ZooKeeper is the main",
                "(VM, backup server, scheduled exporter publishing every backup), the others are clones (importer).",
                "A clone named the owner by 'bin/takeover' promotes itself; a main that is replaced or cut from",
                "ZooKeeper stops its VM at once and stays fenced until 'bin/takeover clear-fence'.",
                "'secrets' creates an instance's certificates, tokens and ZooKeeper secrets for its nodes.",
                "Exit codes: 0 stopped, 1 failed, 2 bad configuration, 3 fenced."})
public final class NodeCommand extends CliCommand {
    // Not required at parse time: 'bin/node secrets ...' runs without one (picocli checks a parent's required options too).
    @Option(names = "--config", paramLabel = "NODE.json", description = "the node configuration (required)")
    Path config;

    public static void main(String[] args) {
        CommandRunner.main(new NodeCommand(), args);
    }

    @Override
    protected ExitStatus execute() throws Exception {
        if (config == null) {
            throw new BadInputException("--config: missing; give this node's configuration (NODE.json), or run 'secrets'");
        }
        NodeConfig node = NodeConfig.load(config);
        PrintWriter out = out();
        CountDownLatch shutdown = new CountDownLatch(1);
        try (NodeAgent agent = NodeAgent.start(node)) {
            Thread hook = new Thread(() -> {
                agent.close();
                shutdown.countDown();
            }, "node-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            out.println("node " + node.node() + " of instance " + node.instance() + ": " + agent.role());
            out.flush();
            Outcome end = agent.ended().get();
            out.println("node " + node.node() + " " + end.message());
            out.flush();
            return end.status();
        }
    }
}

package io.resilientkvm.cli.node;

import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.cli.takeover.StatusCommand;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.instance.NodeConfig;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import io.resilientkvm.node.StandaloneImporter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bin/importer --config NODE.json}: the clone's importer alone (no promotion), and
 * {@code bin/importer status}. {@code bin/node} runs the same importer as part of a clone's role.
 */
@Command(name = "importer", mixinStandardHelpOptions = true, versionProvider = io.resilientkvm.cli.Version.class,
        subcommands = StatusCommand.class,
        description = {"Runs this clone's importer: pulls every backup the current main publishes in ZooKeeper, checks size and",
                "SHA-256 while streaming, verifies it (qemu-img check, backing link), keeps history in the data-dir's srv/backup,",
                "and records what it holds. 'status' prints each clone's newest point, lag and last error.",
                "Use bin/node instead to also be promoted by bin/takeover."})
public final class ImporterCommand extends CliCommand {
    @Option(names = "--config", paramLabel = "NODE.json", description = "this clone's node configuration")
    Path config;

    public static void main(String[] args) {
        CommandRunner.main(new ImporterCommand(), args);
    }

    @Override
    protected ExitStatus execute() throws Exception {
        if (config == null) {
            throw new BadInputException("--config: missing; give this clone's node configuration (or use 'status --config ...')");
        }
        NodeConfig node = NodeConfig.load(config);
        CountDownLatch stop = new CountDownLatch(1);
        try (StandaloneImporter importer = StandaloneImporter.start(node)) {
            // The JVM exits when the hooks end: close here, not after await() returns.
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                importer.close();
                stop.countDown();
            }, "importer-shutdown"));
            out().println("importer of " + node.node() + " running: repository " + node.layout().backupRepository());
            out().flush();
            stop.await();
        }
        return ExitStatus.OK;
    }
}

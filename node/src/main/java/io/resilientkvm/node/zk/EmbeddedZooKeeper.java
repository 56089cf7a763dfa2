package io.resilientkvm.node.zk;

import io.resilientkvm.engine.error.OperationFailedException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.apache.zookeeper.server.embedded.ZooKeeperServerEmbedded;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single ZooKeeper server in this JVM, for one machine (the drill, a lab): ZooKeeper's own
 * {@code ZooKeeperServerEmbedded}, listening on loopback only, data kept in {@code dataDir}.
 * Production uses a real ensemble through its connection string.
 */
public final class EmbeddedZooKeeper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedZooKeeper.class);

    private final ZooKeeperServerEmbedded server;
    private final int port;

    private EmbeddedZooKeeper(ZooKeeperServerEmbedded server, int port) {
        this.server = server;
        this.port = port;
    }

    /** Starts on 127.0.0.1:{@code port} (0 picks a free port), within 30 s. */
    public static EmbeddedZooKeeper start(Path dataDir, int port) throws OperationFailedException {
        int chosen;
        try {
            Files.createDirectories(dataDir);
            chosen = port != 0 ? port : freeLoopbackPort();
        } catch (IOException e) {
            throw new OperationFailedException("cannot prepare embedded ZooKeeper in " + dataDir + ": " + e.getMessage(), e);
        }
        Properties config = new Properties();
        config.setProperty("clientPort", Integer.toString(chosen));
        config.setProperty("clientPortAddress", "127.0.0.1");
        config.setProperty("tickTime", "500");
        config.setProperty("initLimit", "10");
        config.setProperty("syncLimit", "5");
        config.setProperty("maxSessionTimeout", "120000");
        config.setProperty("admin.enableServer", "false");
        config.setProperty("4lw.commands.whitelist", "ruok,srvr,mntr");
        try {
            ZooKeeperServerEmbedded server = ZooKeeperServerEmbedded.builder()
                    .baseDir(dataDir.toAbsolutePath())
                    .configuration(config)
                    .exitHandler(org.apache.zookeeper.server.embedded.ExitHandler.LOG_ONLY)
                    .build();
            server.start(30_000);
            LOG.info("Embedded ZooKeeper listening on 127.0.0.1:{}, data in {}", chosen, dataDir);
            return new EmbeddedZooKeeper(server, chosen);
        } catch (Exception e) { // the embedded API declares Exception
            throw new OperationFailedException("embedded ZooKeeper did not start on 127.0.0.1:" + chosen + ": " + e.getMessage(), e);
        }
    }

    private static int freeLoopbackPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    public String connectString() {
        return "127.0.0.1:" + port;
    }

    public int port() {
        return port;
    }

    @Override
    public void close() {
        server.close();
    }
}

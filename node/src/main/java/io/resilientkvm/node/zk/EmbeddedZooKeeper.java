package io.resilientkvm.node.zk;

import io.resilientkvm.engine.error.OperationFailedException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Properties;
import org.apache.zookeeper.server.embedded.ZooKeeperServerEmbedded;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single ZooKeeper server in this JVM, for one machine (the drill, a lab): ZooKeeper's own
 * {@code ZooKeeperServerEmbedded}, listening on loopback only, data kept in {@code dataDir}.
 * Optionally it also serves a TLS client port ({@link SecurePort}). Production uses a real
 * ensemble through its connection string.
 */
public final class EmbeddedZooKeeper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedZooKeeper.class);

    private final ZooKeeperServerEmbedded server;
    private final int port;
    private final OptionalInt securePort;

    /**
     * A TLS client port (ZooKeeper's {@code secureClientPort}, served by its Netty connection
     * factory): the server's key and certificate in a PKCS12 keystore, the client certificates it
     * accepts in a PKCS12 truststore (a client must present one: {@code ssl.clientAuth=need}).
     * ZooKeeper reads the passwords from the files itself ({@code ssl.*.passwordPath}), so they
     * never enter its configuration file or the JVM's system properties.
     *
     * @param port 0 picks a free port
     */
    public record SecurePort(int port, Path keystore, Path keystorePasswordFile, Path truststore, Path truststorePasswordFile) {
        public SecurePort {
            Objects.requireNonNull(keystore, "keystore");
            Objects.requireNonNull(keystorePasswordFile, "keystorePasswordFile");
            Objects.requireNonNull(truststore, "truststore");
            Objects.requireNonNull(truststorePasswordFile, "truststorePasswordFile");
        }
    }

    private EmbeddedZooKeeper(ZooKeeperServerEmbedded server, int port, OptionalInt securePort) {
        this.server = server;
        this.port = port;
        this.securePort = securePort;
    }

    /** Starts on 127.0.0.1:{@code port} (0 picks a free port), within 30 s. */
    public static EmbeddedZooKeeper start(Path dataDir, int port) throws OperationFailedException {
        return start(dataDir, port, Optional.empty());
    }

    /**
     * Starts on 127.0.0.1:{@code port} and, with {@code secure}, on a TLS port of 127.0.0.1 too.
     * ZooKeeper's server turns its TLS settings into {@code zookeeper.ssl.*} system properties
     * and picks the Netty connection factory for the whole JVM; clients built by
     * {@code ZkClients} set each of those properties for themselves.
     */
    public static EmbeddedZooKeeper start(Path dataDir, int port, Optional<SecurePort> secure) throws OperationFailedException {
        int chosen;
        OptionalInt chosenSecure = OptionalInt.empty();
        try {
            Files.createDirectories(dataDir);
            chosen = port != 0 ? port : freeLoopbackPort();
            if (secure.isPresent()) {
                chosenSecure = OptionalInt.of(secure.get().port() != 0 ? secure.get().port() : freeLoopbackPort());
            }
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
        if (secure.isPresent()) {
            SecurePort tls = secure.get();
            config.setProperty("secureClientPort", Integer.toString(chosenSecure.getAsInt()));
            config.setProperty("secureClientPortAddress", "127.0.0.1");
            config.setProperty("serverCnxnFactory", "org.apache.zookeeper.server.NettyServerCnxnFactory");
            config.setProperty("ssl.keyStore.location", tls.keystore().toAbsolutePath().toString());
            config.setProperty("ssl.keyStore.passwordPath", tls.keystorePasswordFile().toAbsolutePath().toString());
            config.setProperty("ssl.keyStore.type", "PKCS12");
            config.setProperty("ssl.trustStore.location", tls.truststore().toAbsolutePath().toString());
            config.setProperty("ssl.trustStore.passwordPath", tls.truststorePasswordFile().toAbsolutePath().toString());
            config.setProperty("ssl.trustStore.type", "PKCS12");
            config.setProperty("ssl.clientAuth", "need");
        }
        try {
            ZooKeeperServerEmbedded server = ZooKeeperServerEmbedded.builder()
                    .baseDir(dataDir.toAbsolutePath())
                    .configuration(config)
                    .exitHandler(org.apache.zookeeper.server.embedded.ExitHandler.LOG_ONLY)
                    .build();
            server.start(30_000);
            LOG.info("Embedded ZooKeeper listening on 127.0.0.1:{}{}, data in {}", chosen,
                    chosenSecure.isPresent() ? " and TLS on 127.0.0.1:" + chosenSecure.getAsInt() : "", dataDir);
            return new EmbeddedZooKeeper(server, chosen, chosenSecure);
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

    /** 127.0.0.1:SECURE-PORT, when started with a {@link SecurePort}. */
    public Optional<String> secureConnectString() {
        return securePort.isPresent() ? Optional.of("127.0.0.1:" + securePort.getAsInt()) : Optional.empty();
    }

    @Override
    public void close() {
        server.close();
    }
}

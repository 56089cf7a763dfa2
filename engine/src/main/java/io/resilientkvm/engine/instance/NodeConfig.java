package io.resilientkvm.engine.instance;

import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.schemas.InvalidDocumentException;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * A node's configuration file ({@code node-config-schema.json}): which node this is, where the
 * instance lives and how the node reaches the host network, QEMU, ZooKeeper and its peers.
 * Relative paths are resolved against the directory of the file.
 */
public record NodeConfig(String node, String instance, Path dataDir, Path parameters, boolean resilient, VmHost host,
        Zookeeper zookeeper, BackupServer backupServer, Importer importer) {

    /** A clone's importer: the bytes that must stay free on its repository's file system after a download. */
    public record Importer(long freeSpaceReserveBytes) {
        public static final Importer DEFAULT = new Importer(1L << 30);
    }

    /** A configuration with the importer's defaults. */
    public NodeConfig(String node, String instance, Path dataDir, Path parameters, boolean resilient, VmHost host,
            Zookeeper zookeeper, BackupServer backupServer) {
        this(node, instance, dataDir, parameters, resilient, host, zookeeper, backupServer, Importer.DEFAULT);
    }

    /** ZooKeeper settings; {@code connect} empty means a stand-alone node. */
    public record Zookeeper(String connect, String basePath, Duration sessionTimeout, Duration suspendBound) {
    }

    /** The main's backup server, which clones pull from. */
    public record BackupServer(String bind, int port, Optional<Path> tokenFile, Optional<Path> keystore,
            Optional<Path> keystorePasswordFile) {
    }

    public NodeConfig {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(importer, "importer");
    }

    public InstanceLayout layout() {
        return new InstanceLayout(dataDir);
    }

    /** True when the node coordinates through ZooKeeper ({@code zookeeper.connect} is set). */
    public boolean clustered() {
        return zookeeper != null && !zookeeper.connect().isBlank();
    }

    /** How this node reaches ZooKeeper; only for a {@link #clustered()} node. */
    public ZkSettings zkSettings() {
        ZkSettings settings = ZkSettings.of(zookeeper.connect());
        // The schema's minimum is 2 s; a hand-built config may leave it unset (zero).
        return zookeeper.sessionTimeout().compareTo(Duration.ofSeconds(2)) >= 0
                ? settings.withSessionTimeout(zookeeper.sessionTimeout()) : settings;
    }

    /** This instance's paths in ZooKeeper. */
    public ZkLayout zkLayout() {
        String base = zookeeper == null || zookeeper.basePath().isBlank() ? ZkLayout.DEFAULT_BASE : zookeeper.basePath();
        return new ZkLayout(base, instance);
    }

    public static NodeConfig load(Path file) throws BadInputException {
        ObjectNode c;
        try {
            c = ParameterValidator.of(SchemaKind.NODE_CONFIG).validate(JsonDocuments.readObject(file)).orThrow(file);
        } catch (InvalidDocumentException e) {
            throw new BadInputException(e.problems());
        }
        Path base = file.toAbsolutePath().getParent();
        JsonNode net = c.path("network");
        JsonNode vnc = c.path("vnc");
        JsonNode qemu = c.path("qemu");
        JsonNode zk = c.path("zookeeper");
        JsonNode bs = c.path("backup-server");
        VmHost host = new VmHost(net.path("ipv4").asText(), optional(net, "ipv6").orElse(""), net.path("tap-interface").asText(),
                vnc.path("listen").asText(), optional(vnc, "password-file").map(base::resolve),
                qemu.path("binary").asText(), AcceleratorChoice.valueOf(qemu.path("accelerator").asText().toUpperCase(java.util.Locale.ROOT)),
                optional(qemu, "guest-agent-socket").map(base::resolve));
        return new NodeConfig(c.path("node").asText(), c.path("instance").asText(), base.resolve(c.path("data-dir").asText()),
                base.resolve(c.path("parameters").asText()), "kvm-resilient".equals(c.path("software-type").asText()), host,
                new Zookeeper(zk.path("connect").asText(), zk.path("base-path").asText(),
                        Duration.ofMillis(zk.path("session-timeout-ms").asLong()), Duration.ofMillis(zk.path("suspend-bound-ms").asLong())),
                new BackupServer(bs.path("bind").asText(), bs.path("port").asInt(), optional(bs, "token-file").map(base::resolve),
                        optional(bs, "keystore").map(base::resolve), optional(bs, "keystore-password-file").map(base::resolve)),
                new Importer(c.path("importer").path("free-space-reserve-bytes").asLong(Importer.DEFAULT.freeSpaceReserveBytes())));
    }

    private static Optional<String> optional(JsonNode n, String name) {
        JsonNode v = n.get(name);
        return v == null || v.asText().isEmpty() ? Optional.empty() : Optional.of(v.asText());
    }
}

package io.resilientkvm.engine.instance;

import io.resilientkvm.engine.zk.ZkAccess;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.engine.zk.ZkTlsStores;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.schemas.InvalidDocumentException;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import io.resilientkvm.engine.disk.DownloadLimits;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A node's configuration file ({@code node-config-schema.json}): which node this is, where the
 * instance lives and how the node reaches the host network, QEMU, ZooKeeper and its peers.
 * Relative paths are resolved against the directory of the file.
 */
public record NodeConfig(String node, String instance, Path dataDir, Path parameters, boolean resilient, VmHost host,
        Zookeeper zookeeper, BackupServer backupServer, Map<String, Peer> peers, Importer importer, Optional<Identity> tls,
        Optional<PeerChannel> peerChannel, boolean automaticRejoin, Watchdog vmWatchdog) {

    /**
     * The main's VM watchdog ({@code vm-watchdog}): its VM is paused when its agent has not proven
     * for {@code lease} that it owns the epoch, and every promotion waits the lease (and a tenth)
     * before its VM starts (docs/takeover.md, "The VM watchdog"). The same on every node.
     */
    public record Watchdog(Duration lease) {
        public static final Watchdog DEFAULT = new Watchdog(Duration.ofMillis(5000));

        public Watchdog {
            Objects.requireNonNull(lease, "lease");
            if (lease.isNegative() || lease.isZero()) {
                throw new IllegalArgumentException("vm-watchdog.lease-ms must be positive, got " + lease.toMillis());
            }
        }
    }

    /** This node's TLS identity ({@code tls}): its key and certificate in a PKCS12 keystore. */
    public record Identity(Path keystore, Path keystorePasswordFile) {
        public Identity {
            Objects.requireNonNull(keystore, "keystore");
            Objects.requireNonNull(keystorePasswordFile, "keystorePasswordFile");
        }
    }

    /** The mutual-TLS channel between the nodes ({@code peer-channel}). */
    public record PeerChannel(String bind, int port) {
        public PeerChannel {
            Objects.requireNonNull(bind, "bind");
        }
    }

    /**
     * TLS to ZooKeeper ({@code zookeeper.tls}); the client keystore, when empty, is the node's
     * {@link Identity}.
     */
    public record ZkTls(Path truststore, Path truststorePasswordFile, Optional<Path> keystore,
            Optional<Path> keystorePasswordFile) {
        public ZkTls {
            Objects.requireNonNull(truststore, "truststore");
            Objects.requireNonNull(truststorePasswordFile, "truststorePasswordFile");
            Objects.requireNonNull(keystore, "keystore");
            Objects.requireNonNull(keystorePasswordFile, "keystorePasswordFile");
        }
    }

    /** A clone's importer: the bytes that must stay free on its repository's file system after a download. */
    public record Importer(long freeSpaceReserveBytes) {
        public static final Importer DEFAULT = new Importer(1L << 30);
    }

    /**
     * Another node of the instance ({@code peers.NODE}): the address it is trusted at, the
     * certificate (a PEM file, or its SHA-256 fingerprint) it must present, the token it presents
     * to this node's backup server, and its peer channel's port.
     */
    public record Peer(String address, Optional<Path> certificate, Optional<String> fingerprint, Optional<Path> tokenFile,
            OptionalInt channelPort) {
        public Peer {
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(certificate, "certificate");
            Objects.requireNonNull(fingerprint, "fingerprint");
            Objects.requireNonNull(tokenFile, "tokenFile");
            Objects.requireNonNull(channelPort, "channelPort");
        }

        /** A peer known by its address only (no pinned certificate, token or channel). */
        public Peer(String address) {
            this(address, Optional.empty(), Optional.empty(), Optional.empty(), OptionalInt.empty());
        }

        /** True when a certificate or fingerprint pins this peer's identity. */
        public boolean pinned() {
            return certificate.isPresent() || fingerprint.isPresent();
        }
    }

    /**
     * ZooKeeper settings; {@code connect} empty means a stand-alone node. {@code access}: the
     * instance's and this node's ZooKeeper identities, read from their secret files at load; empty
     * means no authentication and open znodes (a lab on one machine).
     */
    public record Zookeeper(String connect, String basePath, Duration sessionTimeout, Duration suspendBound,
            Optional<ZkAccess> access, Optional<ZkTls> tls, Optional<Boolean> failsafe) {
        public Zookeeper {
            Objects.requireNonNull(access, "access");
            Objects.requireNonNull(tls, "tls");
            Objects.requireNonNull(failsafe, "failsafe");
        }

        /** With {@code failsafe} unset: on when the peers allow it ({@link NodeConfig#failsafe()}). */
        public Zookeeper(String connect, String basePath, Duration sessionTimeout, Duration suspendBound,
                Optional<ZkAccess> access, Optional<ZkTls> tls) {
            this(connect, basePath, sessionTimeout, suspendBound, access, tls, Optional.empty());
        }

        public Zookeeper(String connect, String basePath, Duration sessionTimeout, Duration suspendBound,
                Optional<ZkAccess> access) {
            this(connect, basePath, sessionTimeout, suspendBound, access, Optional.empty());
        }

        public Zookeeper(String connect, String basePath, Duration sessionTimeout, Duration suspendBound) {
            this(connect, basePath, sessionTimeout, suspendBound, Optional.empty(), Optional.empty());
        }
    }

    /** The main's backup server, which clones pull from; {@code advertise}: the host announced to them. */
    public record BackupServer(String bind, int port, Optional<Path> tokenFile, Optional<Path> keystore,
            Optional<Path> keystorePasswordFile, BackupServerLimits limits, Optional<String> advertise) {
        public BackupServer {
            Objects.requireNonNull(limits, "limits");
            Objects.requireNonNull(advertise, "advertise");
        }

        /** With the default limits, announced at its bind address. */
        public BackupServer(String bind, int port, Optional<Path> tokenFile, Optional<Path> keystore,
                Optional<Path> keystorePasswordFile) {
            this(bind, port, tokenFile, keystore, keystorePasswordFile, BackupServerLimits.DEFAULTS, Optional.empty());
        }

        /** With the default limits, announced at {@code advertise}. */
        public BackupServer(String bind, int port, Optional<Path> tokenFile, Optional<Path> keystore,
                Optional<Path> keystorePasswordFile, Optional<String> advertise) {
            this(bind, port, tokenFile, keystore, keystorePasswordFile, BackupServerLimits.DEFAULTS, advertise);
        }
    }

    public NodeConfig {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(host, "host");
        peers = Map.copyOf(peers);
        Objects.requireNonNull(importer, "importer");
        Objects.requireNonNull(tls, "tls");
        Objects.requireNonNull(peerChannel, "peerChannel");
        Objects.requireNonNull(vmWatchdog, "vmWatchdog");
    }

    /** Rejoining automatically ({@code rejoin: automatic}, the default), with the default VM watchdog. */
    public NodeConfig(String node, String instance, Path dataDir, Path parameters, boolean resilient, VmHost host,
            Zookeeper zookeeper, BackupServer backupServer, Map<String, Peer> peers, Importer importer, Optional<Identity> tls,
            Optional<PeerChannel> peerChannel) {
        this(node, instance, dataDir, parameters, resilient, host, zookeeper, backupServer, peers, importer, tls, peerChannel, true,
                Watchdog.DEFAULT);
    }

    /** Without a TLS identity or peer channel. */
    public NodeConfig(String node, String instance, Path dataDir, Path parameters, boolean resilient, VmHost host,
            Zookeeper zookeeper, BackupServer backupServer, Map<String, Peer> peers, Importer importer) {
        this(node, instance, dataDir, parameters, resilient, host, zookeeper, backupServer, peers, importer, Optional.empty(),
                Optional.empty());
    }

    /** A node without configured peers (every node on one machine: any announced main address is taken), importer defaults. */
    public NodeConfig(String node, String instance, Path dataDir, Path parameters, boolean resilient, VmHost host,
            Zookeeper zookeeper, BackupServer backupServer) {
        this(node, instance, dataDir, parameters, resilient, host, zookeeper, backupServer, Map.of(), Importer.DEFAULT);
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
        settings = zookeeper.access().map(settings::withAccess).orElse(settings);
        settings = zookeeper.tls().map(this::zkTlsStores).map(settings::withTls).orElse(settings);
        // The schema's minimum is 2 s; a hand-built config may leave it unset (zero).
        return zookeeper.sessionTimeout().compareTo(Duration.ofSeconds(2)) >= 0
                ? settings.withSessionTimeout(zookeeper.sessionTimeout()) : settings;
    }

    /** {@code zookeeper.tls}, its client keystore and password file defaulting to {@code tls}'s. */
    private ZkTlsStores zkTlsStores(ZkTls t) {
        boolean ownKey = t.keystore().isPresent();
        boolean ownPassword = t.keystorePasswordFile().isPresent();
        return new ZkTlsStores(t.truststore(), t.truststorePasswordFile(),
                ownKey ? t.keystore() : tls.map(Identity::keystore),
                ownPassword ? t.keystorePasswordFile() : tls.map(Identity::keystorePasswordFile),
                ownKey ? "zookeeper.tls.keystore" : "tls.keystore",
                ownPassword ? "zookeeper.tls.keystore-password-file" : "tls.keystore-password-file");
    }

    /**
     * Fail-safe mode ({@code zookeeper.failsafe}, docs/takeover.md): as configured, else on exactly
     * when {@link #failsafeMissing()} finds nothing missing.
     */
    public boolean failsafe() {
        return clustered() && zookeeper.failsafe().orElseGet(() -> failsafeMissing().isEmpty());
    }

    /**
     * What fail-safe mode lacks here: this node's TLS identity, its peer channel, at least one
     * peer, and each peer's channel port and pinned identity (its acknowledgements must come from
     * that node and no other).
     */
    public List<String> failsafeMissing() {
        List<String> missing = new ArrayList<>();
        if (tls.isEmpty()) {
            missing.add("tls (this node's identity)");
        }
        if (peerChannel.isEmpty()) {
            missing.add("peer-channel");
        }
        if (peers.isEmpty()) {
            missing.add("peers (the instance's other nodes)");
        }
        new java.util.TreeMap<>(peers).forEach((name, p) -> {
            if (p.channelPort().isEmpty()) {
                missing.add("peers." + name + ".channel-port");
            }
            if (!p.pinned()) {
                missing.add("peers." + name + ".certificate or fingerprint");
            }
        });
        return missing;
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
                optional(qemu, "guest-agent-socket").map(base::resolve)).withDownloads(downloads(c.path("downloads"), base));
        if (c.has("boot")) {
            host = host.withBoot(directBoot(c.path("boot"), base, file));
        }
        String node = c.path("node").asText();
        String instance = c.path("instance").asText();
        String basePath = zk.path("base-path").asText();
        // The schema requires both files or neither.
        Optional<ZkAccess> access = Optional.empty();
        if (optional(zk, "instance-secret-file").isPresent()) {
            access = Optional.of(ZkAccess.read(new ZkLayout(basePath.isBlank() ? ZkLayout.DEFAULT_BASE : basePath, instance), node,
                    base.resolve(zk.path("instance-secret-file").asText()), base.resolve(zk.path("node-secret-file").asText())));
        }
        NodeConfig config = new NodeConfig(node, instance, base.resolve(c.path("data-dir").asText()),
                base.resolve(c.path("parameters").asText()), "kvm-resilient".equals(c.path("software-type").asText()), host,
                new Zookeeper(zk.path("connect").asText(), basePath,
                        Duration.ofMillis(zk.path("session-timeout-ms").asLong()), Duration.ofMillis(zk.path("suspend-bound-ms").asLong()),
                        access, zkTls(zk.path("tls"), base),
                        zk.has("failsafe") ? Optional.of(zk.path("failsafe").asBoolean()) : Optional.empty()),
                new BackupServer(bs.path("bind").asText(), bs.path("port").asInt(), optional(bs, "token-file").map(base::resolve),
                        optional(bs, "keystore").map(base::resolve), optional(bs, "keystore-password-file").map(base::resolve),
                        limits(bs.path("limits")), optional(bs, "advertise")),
                peers(c.path("peers"), base),
                new Importer(c.path("importer").path("free-space-reserve-bytes").asLong(Importer.DEFAULT.freeSpaceReserveBytes())),
                identity(c.path("tls"), base), peerChannel(c.path("peer-channel")),
                !"manual".equals(c.path("rejoin").asText("automatic")),
                new Watchdog(Duration.ofMillis(c.path("vm-watchdog").path("lease-ms").asLong(Watchdog.DEFAULT.lease().toMillis()))));
        if (config.zookeeper().failsafe().orElse(false) && !config.failsafeMissing().isEmpty()) {
            throw new BadInputException(file + ": zookeeper.failsafe is true but fail-safe mode needs "
                    + String.join(", ", config.failsafeMissing()) + ": the clones acknowledge the main over the peer channel,"
                    + " authenticated both ways; set them (docs/deployment.md) or remove zookeeper.failsafe");
        }
        return config;
    }

    private static Optional<Identity> identity(JsonNode t, Path base) {
        return t.isObject() ? Optional.of(new Identity(base.resolve(t.path("keystore").asText()),
                base.resolve(t.path("keystore-password-file").asText()))) : Optional.empty();
    }

    private static Optional<PeerChannel> peerChannel(JsonNode p) {
        return p.isObject() ? Optional.of(new PeerChannel(p.path("bind").asText("127.0.0.1"), p.path("port").asInt()))
                : Optional.empty();
    }

    private static Optional<ZkTls> zkTls(JsonNode t, Path base) {
        return t.isObject() ? Optional.of(new ZkTls(base.resolve(t.path("truststore").asText()),
                base.resolve(t.path("truststore-password-file").asText()), optional(t, "keystore").map(base::resolve),
                optional(t, "keystore-password-file").map(base::resolve))) : Optional.empty();
    }

    /** {@code backup-server.limits}: each key absent takes its default; a bad combination is bad input. */
    private static BackupServerLimits limits(JsonNode l) throws BadInputException {
        BackupServerLimits d = BackupServerLimits.DEFAULTS;
        try {
            return new BackupServerLimits(
                    Duration.ofMillis(l.path("request-timeout-ms").asLong(d.requestTimeout().toMillis())),
                    Duration.ofMillis(l.path("idle-timeout-ms").asLong(d.idleTimeout().toMillis())),
                    l.path("connections-per-address").asInt(d.connectionsPerAddress()),
                    l.path("connections").asInt(d.connections()),
                    l.path("auth-failures-before-backoff").asInt(d.authFailuresBeforeBackoff()),
                    Duration.ofMillis(l.path("auth-backoff-max-ms").asLong(d.authBackoffMax().toMillis())));
        } catch (IllegalArgumentException | IllegalStateException e) {
            throw new BadInputException(e.getMessage() + " (node configuration)", e);
        }
    }

    private static DirectBoot directBoot(JsonNode boot, Path base, Path file) throws BadInputException {
        Path kernel = base.resolve(boot.path("kernel").asText());
        Path initrd = base.resolve(boot.path("initrd").asText());
        java.util.List<String> problems = new java.util.ArrayList<>();
        if (!java.nio.file.Files.isRegularFile(kernel)) {
            problems.add(file + ": boot.kernel = " + kernel + ": no such file; give the kernel image QEMU should boot");
        }
        if (!java.nio.file.Files.isRegularFile(initrd)) {
            problems.add(file + ": boot.initrd = " + initrd + ": no such file; give the initramfs QEMU should load");
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
        return new DirectBoot(kernel, initrd, boot.path("append").asText());
    }

    private static DownloadLimits downloads(JsonNode d, Path base) {
        List<Path> roots = new ArrayList<>();
        d.path("file-roots").forEach(r -> roots.add(base.resolve(r.asText())));
        return new DownloadLimits(d.path("max-bytes").asLong(DownloadLimits.DEFAULT_MAX_BYTES),
                Duration.ofSeconds(d.path("deadline-seconds").asLong(DownloadLimits.DEFAULT_DEADLINE.toSeconds())), roots);
    }

    private static Map<String, Peer> peers(JsonNode peers, Path base) {
        Map<String, Peer> all = new java.util.TreeMap<>();
        peers.properties().forEach(e -> {
            JsonNode p = e.getValue();
            all.put(e.getKey(), new Peer(p.path("address").asText(), optional(p, "certificate").map(base::resolve),
                    optional(p, "fingerprint"), optional(p, "token-file").map(base::resolve),
                    p.has("channel-port") ? OptionalInt.of(p.path("channel-port").asInt()) : OptionalInt.empty()));
        });
        return all;
    }

    private static Optional<String> optional(JsonNode n, String name) {
        JsonNode v = n.get(name);
        return v == null || v.asText().isEmpty() ? Optional.empty() : Optional.of(v.asText());
    }
}

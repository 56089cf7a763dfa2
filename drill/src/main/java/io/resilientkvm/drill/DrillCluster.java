package io.resilientkvm.drill;

import io.resilientkvm.drill.guest.GuestAccelerator;
import io.resilientkvm.drill.guest.GuestImage;
import io.resilientkvm.drill.netns.NetBed;
import io.resilientkvm.drill.netns.NetnsSecrets;
import io.resilientkvm.drill.netns.TcpRelay;
import io.resilientkvm.drill.netns.ZkEnsemble;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.node.zk.EmbeddedZooKeeper;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.curator.framework.CuratorFramework;

/**
 * The drill's machine: a ZooKeeper (embedded or given), a main and two clones as separate
 * node processes, their parameters and node configs in a scratch folder, and their tear-down.
 * On a network bed ({@link DrillOptions#bed()}; this JVM runs on its operator host): node N+1
 * runs on host N with one server of a 3-server ensemble, ZooKeeper ACLs on, its backup server
 * and NAT forwards on the host's bed address, and the other nodes as its peers.
 */
final class DrillCluster {
    private static final String INSTANCE = "drill";
    private static final long EXT_DISK_BYTES = 64L << 20;
    static final List<String> NODES = List.of("node-a", "node-b", "node-c");
    static final Duration SESSION = Duration.ofSeconds(4);
    static final Duration STEP_TIMEOUT = Duration.ofMinutes(3);
    /** The tiny guest under TCG boots in 15-30 s and writes slowly: its steps get twice the time. */
    private Duration stepTimeout = STEP_TIMEOUT;

    private final DrillOptions options;
    private final PrintWriter out;
    private final Consumer<String> steps;
    private final Map<String, NodeProcess> nodes = new LinkedHashMap<>();
    private Path scratch;
    private EmbeddedZooKeeper zk;
    private NetBed bed;
    private ZkEnsemble ensemble;
    private NetnsSecrets secrets;
    private CuratorFramework client;
    private ZkLayout layout;
    private GuestImage guest;
    private String accelerator;
    private int guestPort;
    private int httpdPort;
    private String dataToVm;

    DrillCluster(DrillOptions options, PrintWriter out, Consumer<String> steps) {
        this.options = options;
        this.out = out;
        this.steps = steps;
    }

    void setUp() throws OperatorException, IOException {
        if (options.scratch().isPresent()) {
            Path dir = options.scratch().get();
            if (Files.exists(dir)) {
                try (Stream<Path> s = Files.list(dir)) {
                    if (s.findAny().isPresent()) {
                        throw new BadInputException("--dir " + dir + ": not empty; the drill removes its scratch folder"
                                + " afterwards, so give a new or empty folder");
                    }
                }
            }
            scratch = Files.createDirectories(dir);
        } else {
            scratch = Files.createTempDirectory("rkvm-drill-");
        }
        step("scratch folder " + scratch);
        String connect;
        String base = "/resilient-kvm-drill/" + HexFormat.of().formatHex(random(4));
        layout = new ZkLayout(base, INSTANCE);
        ZkSettings settings;
        if (options.bed().isPresent()) {
            bed = NetBed.attach(options.bed().get(), NODES.size(), true);
            Map<String, String> addresses = new LinkedHashMap<>();
            NODES.forEach(n -> addresses.put(n, host(n).address()));
            secrets = NetnsSecrets.create(scratch.resolve("secrets"), INSTANCE, addresses, bed.operator().orElseThrow().address());
            ensemble = ZkEnsemble.start(bed, secrets, scratch.resolve("zookeeper"));
            connect = ensemble.connectString();
            step("network bed " + bed.id() + ": " + String.join(", ", NODES.stream().map(n -> n + " on " + host(n).address()).toList())
                    + ", this drill on " + bed.operator().orElseThrow().address() + "; ZooKeeper ensemble " + connect
                    + " (TLS only) with ACLs; secrets from the generator of bin/node secrets in " + secrets.dir());
            // The ensemble elects a leader first: give the first connection time for it.
            settings = new ZkSettings(connect, ZkSettings.DEFAULT_SESSION_TIMEOUT, Duration.ofSeconds(60), true)
                    .withAccess(secrets.operatorAccess(layout)).withTls(secrets.operatorTls());
        } else if (options.zookeeper().isPresent()) {
            connect = options.zookeeper().get();
            step("using ZooKeeper at " + connect);
            settings = ZkSettings.of(connect);
        } else {
            zk = EmbeddedZooKeeper.start(scratch.resolve("zookeeper"), 0);
            connect = zk.connectString();
            step("embedded ZooKeeper at " + connect);
            settings = ZkSettings.of(connect);
        }
        client = ZkClients.connect(settings);
        Path token = scratch.resolve("backup.token");
        Files.writeString(token, HexFormat.of().formatHex(random(32)) + "\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
        accelerator = options.accelerator();
        if (options.guest()) {
            guest = GuestImage.obtain(this::step);
            accelerator = GuestAccelerator.resolve(options.accelerator(), guest, scratch.resolve("probe"), this::step);
            if ("tcg".equals(accelerator)) {
                stepTimeout = STEP_TIMEOUT.multipliedBy(2);
            }
            guestPort = freeGuestPort();
            httpdPort = freePort();
            dataToVm = "drill data " + HexFormat.of().formatHex(random(8));
            if (bed != null) {
                startRelays();
            }
            step("guest workload: " + guest.kernelPackage() + ", accelerator " + accelerator + ", HTTP on "
                    + (bed == null ? "127.0.0.1" : "the main's address") + ":" + (10000 + guestPort) + ", guest agent " + (guest.guestAgent() ? "on (backups quiesced)" : "off: "
                    + guest.guestAgentNote()));
        }
        Path params = options.guest() ? null : writeParameters();
        for (String node : NODES) {
            Path dataDir = scratch.resolve(node);
            Files.createDirectories(dataDir);
            Path nodeParams = options.guest() ? writeGuestParameters(node, dataDir) : params;
            Path config = writeNodeConfig(node, dataDir, nodeParams, token, connect, base);
            if (node.equals(NODES.get(0))) {
                // The main's disk: blank, of the drill's size (the parameters only know whole GiB).
                InstanceLayout l = new InstanceLayout(dataDir);
                Files.createDirectories(l.mainDisk().getParent());
                DiskCheck.expected(l.mainDisk(), options.diskBytes(), List.of());
                if (options.guest()) {
                    Path ext = externalDisk(dataDir);
                    Files.createDirectories(ext.getParent());
                    new QemuImg().create(ext, "qcow2", EXT_DISK_BYTES);
                }
            }
            nodes.put(node, NodeProcess.start(node, config, new InstanceLayout(dataDir), scratch.resolve("logs"), inside(node)));
        }
        step("started " + String.join(", ", NODES) + " (logs in " + scratch.resolve("logs") + ")");
    }

    Path scratch() {
        return scratch;
    }

    CuratorFramework client() {
        return client;
    }

    ZkLayout layout() {
        return layout;
    }

    NodeProcess node(String name) {
        return nodes.get(name);
    }

    /** The guest workload's image; null with the qemu-io workload. */
    GuestImage guest() {
        return guest;
    }

    int guestPort() {
        return guestPort;
    }

    String dataToVm() {
        return dataToVm;
    }

    Duration stepTimeout() {
        return stepTimeout;
    }

    /** The bed host {@code node} runs on (node-a on h1...); only on a bed. */
    private NetBed.Host host(String node) {
        return bed.host(NODES.indexOf(node) + 1);
    }

    /** What runs a command on {@code node}'s host: {@code ip netns exec NS} on a bed, nothing on one machine. */
    List<String> inside(String node) {
        return bed == null ? List.of() : bed.inside(host(node));
    }

    /** Takes {@code node}'s host link down (on a bed). */
    void cut(String node) throws IOException {
        bed.cut(host(node));
    }

    /** Brings {@code node}'s host link back (on a bed). */
    void heal(String node) throws IOException {
        bed.heal(host(node));
    }

    /** The address of {@code node}'s host on a bed; empty on one machine. */
    Optional<String> hostAddress(String node) {
        return bed == null ? Optional.empty() : Optional.of(host(node).address());
    }

    /** The address the drill reaches {@code node}'s NAT forward (the guest's HTTP) at: loopback, or its host's relay on a bed. */
    String guestAddress(String node) {
        return bed == null ? "127.0.0.1" : host(node).address();
    }

    /** What every drill instance has: three nodes, a small VM, no tap, backups every --interval. */
    private ObjectNode baseParameters() {
        ObjectNode p = new ObjectMapper().createObjectNode();
        p.put("-sla-0-computer_guid", NODES.get(0));
        p.put("-sla-1-computer_guid", NODES.get(1));
        p.put("-sla-2-computer_guid", NODES.get(2));
        p.put("ram-size", 256);
        p.put("cpu-count", 1);
        p.put("disk-size", 1);
        p.put("use-tap", false);
        p.put("resiliency-backup-periodicity", "@every " + options.intervalSeconds() + "s");
        return p;
    }

    private Path writeParameters(ObjectNode p, String name) throws IOException {
        Path file = scratch.resolve(name);
        Files.writeString(file, p.toPrettyString() + "\n", StandardCharsets.UTF_8);
        return file;
    }

    private Path writeParameters() throws IOException {
        return writeParameters(baseParameters().put("use-nat", false), "parameters.json");
    }

    private Path writeNodeConfig(String node, Path dataDir, Path params, Path token, String connect, String base)
            throws IOException {
        ObjectMapper m = new ObjectMapper();
        ObjectNode c = m.createObjectNode();
        c.put("node", node);
        c.put("instance", INSTANCE);
        c.put("data-dir", dataDir.toString());
        c.put("parameters", params.toString());
        c.put("software-type", "kvm-resilient");
        c.putObject("vnc").put("listen", "none");
        ObjectNode qemu = c.putObject("qemu").put("accelerator", accelerator);
        if (guest != null) {
            // The tiny guest boots directly; its agent quiesces each backup (fsfreeze) when the image has one.
            c.putObject("boot").put("kernel", guest.kernel().toString()).put("initrd", guest.initrd().toString())
                    .put("append", GuestImage.append(guestPort, 10, options.guestLoad()));
            if (guest.guestAgent()) {
                qemu.put("guest-agent-socket", new InstanceLayout(dataDir).guestAgentSocket().toString());
            }
        }
        c.putObject("zookeeper").put("connect", connect).put("base-path", base)
                .put("session-timeout-ms", SESSION.toMillis()).put("suspend-bound-ms", SESSION.toMillis() / 2);
        c.putObject("backup-server").put("bind", "127.0.0.1").put("port", 0).put("token-file", token.toString());
        if (bed != null) {
            hostFields(c, node);
        }
        Path file = scratch.resolve(node + ".json");
        Files.writeString(file, c.toPrettyString() + "\n", StandardCharsets.UTF_8);
        return file;
    }

    /**
     * What a node on a bed host gets: its secrets from {@link NetnsSecrets} (TLS identity, its own
     * token, the other nodes as pinned peers at their hosts' addresses with per-clone tokens and
     * channel ports, the peer channel, ZooKeeper TLS and digest identities), and its backup server
     * and NAT forwards on its host's address (advertised as that address), so a clone fetches only
     * from the main's configured address, over mutual TLS.
     */
    private void hostFields(ObjectNode c, String node) {
        NetnsSecrets.merge(c, secrets.fragments().get(node));
        String address = host(node).address();
        ((ObjectNode) c.get("backup-server")).put("bind", address).put("advertise", address);
        // The NAT forward stays on the host's loopback, reached from the bed through a relay (see startRelays).
        c.putObject("network").put("ipv4", "127.0.0.1").put("ipv6", "");
    }

    /** The bed's secrets; only on a bed. */
    NetnsSecrets secrets() {
        return secrets;
    }

    /**
     * On every host a {@link TcpRelay} from its bed address to the guest's NAT forward on its
     * loopback, so the drill on the operator host reaches the guest wherever it runs: the tiny
     * guest has no default route and answers only what the NAT shows from its gateway, which a
     * forward on a bed address would not (QEMU shows a non-loopback peer's own address).
     */
    private void startRelays() throws IOException {
        String port = Integer.toString(10000 + guestPort);
        for (String node : NODES) {
            NetBed.Host h = host(node);
            bed.start(h, NetBed.java(List.of("-Xmx32m", "-XX:TieredStopAtLevel=1"), TcpRelay.class.getName(),
                    List.of(h.address(), port, "127.0.0.1", port)), scratch.resolve("relay-" + h.name() + ".log"));
        }
    }

    /**
     * The guest workload's parameters, one file per node: the same instance, but each node's
     * external disk is in its own data folder (on one machine the nodes cannot share a path).
     * The NAT is restricted: the guest is reached on its forward and reaches only 10.0.2.100.
     */
    private Path writeGuestParameters(String node, Path dataDir) throws IOException {
        ObjectNode p = baseParameters();
        p.put("use-nat", true);
        p.put("nat-restrict-mode", true);
        p.putArray("nat-rules").add(guestPort);
        p.put("enable-http-server", true);
        p.put("httpd-port", httpdPort);
        p.put("data-to-vm", dataToVm);
        p.put("authorized-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDrill drill@resilient-kvm");
        p.putObject("external-disk").putObject("ext").put("path", externalDisk(dataDir).toString()).put("format", "qcow2");
        return writeParameters(p, "parameters-" + node + ".json");
    }

    static Path externalDisk(Path dataDir) {
        return dataDir.resolve("external-disk").resolve("ext.qcow2");
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** A guest port p whose host forward 10000 + p is free now (nat-rules allow p up to 55535). */
    private static int freeGuestPort() throws IOException {
        for (int i = 0; i < 100; i++) {
            int port = freePort();
            if (port > 10000 && port - 10000 <= 55535 && port != 10080) {
                return port - 10000;
            }
        }
        throw new IOException("found no free port between 10001 and 65535 for the guest's NAT forward");
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new SecureRandom().nextBytes(b);
        return b;
    }

    private void step(String what) {
        steps.accept(what);
    }

    /** Stops every process it started; removes the scratch folder if {@code removeScratch}. */
    void close(boolean removeScratch) {
        for (NodeProcess n : nodes.values()) {
            n.close();
        }
        if (client != null) {
            client.close();
        }
        if (zk != null) {
            zk.close();
        }
        if (ensemble != null) {
            ensemble.close();
        }
        if (bed != null) {
            bed.close();
        }
        if (scratch != null && removeScratch) {
            try (Stream<Path> s = Files.walk(scratch)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            } catch (IOException e) {
                out.println("could not remove " + scratch + ": " + e.getMessage());
            }
        }
    }
}

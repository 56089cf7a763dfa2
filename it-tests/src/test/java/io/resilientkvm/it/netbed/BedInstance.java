package io.resilientkvm.it.netbed;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.drill.netns.NetBed;
import io.resilientkvm.drill.netns.NetnsSecrets;
import io.resilientkvm.drill.netns.ZkEnsemble;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.zk.ZkLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One secured instance on the three-host bed for an IT class: node-a (the main, a 64 MiB blank
 * disk, a backup every 10 s), node-b and node-c on hosts 198.18.0.1-3, each host with one server
 * of the TLS-only ensemble; every node's configuration has the generator's secrets
 * ({@link NetnsSecrets}: TLS, pinned peers, per-clone tokens, peer channel, ZooKeeper TLS and
 * digest identities) and its backup server on its host's address. The agents are real
 * {@code bin/node} JVMs in their hosts' namespaces; the test watches through {@link ZkShell}s on
 * the bed. Closing it logs the IT class's wall time. Root only.
 */
final class BedInstance implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(BedInstance.class);
    static final String INSTANCE = "bedsec";
    static final List<String> NODES = List.of("node-a", "node-b", "node-c");
    static final String DEVICE = "virtio0";
    static final int BACKUP_PORT = 8443;
    static final Duration WAIT = Duration.ofSeconds(90);
    /**
     * The agents' ZooKeeper session S and suspend bound B. B must outlast how long a client stays
     * disconnected when one server goes, its host cut (or the leader's, the others elect and
     * sync): with a clone on that host, a cut main cannot have every acknowledgement and fences at
     * SUSPENDED + B. With S = 4 s and B = 2 s the bed showed a main fenced so once in 8 runs
     * (SUSPENDED, two reconnects refused while the ensemble elected, back 4.3 s later); B = 5 s,
     * S = 8 s (B below 2/3 S, as docs/takeover.md's timing argument needs) leave room.
     */
    static final Duration SESSION = Duration.ofMillis(8000);
    static final Duration SUSPEND_BOUND = Duration.ofMillis(5000);
    /**
     * The VM watchdog's lease. Its renewals must survive the worst clone-host cut: the host of the
     * main's server and of the ensemble's leader, whose clone cannot acknowledge. The proof notices
     * the silent server within a renewal period and a sync bound (7/12 of the lease), then the
     * client needs the others to have elected; with the default 5 s the bed's VM was paused 1.7 s
     * so, with three beds on two cores (PartitionsOnBedIT).
     */
    static final Duration LEASE = Duration.ofMillis(8000);

    final Path dir;
    final NetBed bed;
    final NetnsSecrets secrets;
    final ZkEnsemble ensemble;
    final ZkLayout layout = new ZkLayout(ZkLayout.DEFAULT_BASE, INSTANCE);
    private final Path params;
    private final Map<String, Process> agents = new LinkedHashMap<>();
    private final List<ShellClient> shells = new ArrayList<>();
    private final String testClass;
    private final long started;

    private BedInstance(Path dir, NetBed bed, NetnsSecrets secrets, ZkEnsemble ensemble, Path params, String testClass,
            long started) {
        this.testClass = testClass;
        this.started = started;
        this.dir = dir;
        this.bed = bed;
        this.secrets = secrets;
        this.ensemble = ensemble;
        this.params = params;
    }

    /** The bed, the secrets and the ensemble, every node's configuration written, no agent started yet. */
    static BedInstance create(Path dir, String testClass) throws Exception {
        long started = System.nanoTime();
        NetBed bed = NetBed.create(NODES.size());
        try {
            Map<String, String> addresses = new LinkedHashMap<>();
            for (int i = 0; i < NODES.size(); i++) {
                addresses.put(NODES.get(i), bed.host(i + 1).address());
            }
            // The observer's certificate names node-c's host, where the test's own shells run.
            NetnsSecrets secrets = NetnsSecrets.create(dir.resolve("secrets"), INSTANCE, addresses, bed.host(3).address());
            ZkEnsemble ensemble = ZkEnsemble.start(bed, secrets, dir.resolve("zookeeper"));
            Path params = Files.writeString(dir.resolve("params.json"), """
                    {"-sla-0-computer_guid": "node-a", "-sla-1-computer_guid": "node-b", "-sla-2-computer_guid": "node-c",
                     "ram-size": 256, "cpu-count": 1, "disk-size": 1, "use-nat": false, "use-tap": false,
                     "resiliency-backup-periodicity": "@every 10s"}
                    """);
            BedInstance b = new BedInstance(dir, bed, secrets, ensemble, params, testClass, started);
            InstanceLayout main = b.layout("node-a");
            Files.createDirectories(main.mainDisk().getParent());
            Process img = new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", main.mainDisk().toString(), "64M")
                    .inheritIO().start();
            if (!img.waitFor(60, TimeUnit.SECONDS) || img.exitValue() != 0) {
                throw new IOException("qemu-img create " + main.mainDisk() + " failed");
            }
            for (String node : NODES) {
                b.writeConfig(node, b.config(node));
            }
            return b;
        } catch (Exception | Error e) {
            bed.close();
            throw e;
        }
    }

    NetBed.Host host(String node) {
        return bed.host(NODES.indexOf(node) + 1);
    }

    InstanceLayout layout(String node) {
        return new InstanceLayout(dir.resolve(node));
    }

    /** {@code node}'s configuration as the instance runs it (a fresh copy, to change for a test). */
    ObjectNode config(String node) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("node", node).put("instance", INSTANCE).put("data-dir", dir.resolve(node).toString())
                .put("parameters", params.toString()).put("software-type", "kvm-resilient");
        c.putObject("vnc").put("listen", "none");
        c.putObject("zookeeper").put("session-timeout-ms", SESSION.toMillis()).put("suspend-bound-ms", SUSPEND_BOUND.toMillis());
        c.putObject("vm-watchdog").put("lease-ms", LEASE.toMillis());
        NetnsSecrets.merge(c, secrets.fragments().get(node));
        String address = host(node).address();
        ((ObjectNode) c.get("backup-server")).put("bind", address).put("advertise", address).put("port", BACKUP_PORT);
        return c;
    }

    /** Writes {@code config} as {@code DIR/NAME.json}. */
    Path writeConfig(String name, ObjectNode config) throws IOException {
        return Files.writeString(dir.resolve(name + ".json"), config.toPrettyString() + "\n", StandardCharsets.UTF_8);
    }

    Path log(String name) {
        return dir.resolve("logs").resolve(name + ".log");
    }

    /** Starts {@code node}'s agent on its host with the configuration {@code DIR/CONFIG.json}, its output in {@code logs/LOG.log}. */
    Process startAgent(String node, String config, String log) throws IOException {
        Files.createDirectories(log(log).getParent());
        Process p = bed.start(host(node), NetBed.java(List.of("-Xmx256m", "-XX:TieredStopAtLevel=1"),
                "io.resilientkvm.cli.node.NodeCommand", List.of("--config", dir.resolve(config + ".json").toString())), log(log));
        Process old = agents.put(node, p);
        if (old != null) {
            NetBed.kill(List.of(old));
        }
        return p;
    }

    /** Stops {@code node}'s agent (SIGKILL; a clone's agent holds no VM). */
    void stopAgent(String node) {
        Process p = agents.remove(node);
        if (p != null) {
            NetBed.kill(List.of(p));
        }
    }

    /** The three agents with the instance's configurations. */
    void startAll() throws IOException {
        for (String node : NODES) {
            startAgent(node, node, node);
        }
    }

    /**
     * A client on node-c's host with the instance's identity (and one of its own, {@code operator})
     * and the operator's certificate: what the test reads the instance's state through.
     */
    ShellClient observer() throws IOException {
        ShellClient s = ShellClient.startNode(bed, host("node-c"), ensemble.connectString(), secrets.operatorTls(),
                secrets.operatorAccess(layout),
                log("observer"));
        shells.add(s);
        return s;
    }

    /** A plain client on {@code host} over TLS with {@code tls}, authenticated as {@code auth} (none: no identity). */
    ShellClient stranger(NetBed.Host host, io.resilientkvm.engine.zk.ZkTlsStores tls, List<String> auth, String log) throws IOException {
        ShellClient s = ShellClient.start(bed, host, ensemble.connectString(), tls, auth, log(log));
        shells.add(s);
        return s;
    }

    /** The newest published backup of the main's disk: {@code [path, chain, sequence]}, within {@link #WAIT}. */
    String[] newestBackup(ShellClient observer) {
        String answer = await("a published backup").atMost(WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> observer.send("newest " + DEVICE), a -> a.startsWith("OK "));
        return answer.substring(3).split(" ");
    }

    /** Waits until both clones hold a backup newer than {@code after} (or any, if null); returns it. */
    String[] nextBackupOnBothClones(ShellClient observer, String[] after) {
        String[] next = await("a backup after " + (after == null ? "none" : after[0])).atMost(WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> newestBackup(observer), b -> after == null || !b[0].equals(after[0]));
        for (String clone : List.of("node-b", "node-c")) {
            await(clone + " holds " + next[0]).atMost(WAIT).pollInterval(Duration.ofMillis(500))
                    .until(() -> observer.send("holds " + clone + " " + DEVICE + " " + next[1] + " " + next[2]), "OK true"::equals);
        }
        return next;
    }

    /** The pid of the main's QEMU, if its pid file names a live process. */
    Optional<Long> mainVm() throws IOException {
        Path pid = layout("node-a").pidFile();
        if (!Files.exists(pid)) {
            return Optional.empty();
        }
        long p = Long.parseLong(Files.readString(pid).strip());
        return ProcessHandle.of(p).filter(ProcessHandle::isAlive).map(ProcessHandle::pid);
    }

    /** The text of a log, for assertions and their messages. */
    String read(String log) throws IOException {
        return Files.exists(log(log)) ? Files.readString(log(log)) : "";
    }

    @Override
    public void close() {
        shells.forEach(ShellClient::close);
        NetBed.kill(List.copyOf(agents.values()));
        agents.clear();
        // The main's QEMU is not the agent's descendant once the agent is gone: end it by its pid file.
        try {
            mainVm().flatMap(ProcessHandle::of).ifPresent(ProcessHandle::destroyForcibly);
        } catch (IOException | RuntimeException e) {
            // nothing more to stop
        }
        ensemble.close();
        bed.close();
        LOG.info("{}: {} s wall time (bed, ensemble, instance and every step)", testClass,
                String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - started) / 1e9));
    }
}

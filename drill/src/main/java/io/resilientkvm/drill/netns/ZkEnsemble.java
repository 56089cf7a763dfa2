package io.resilientkvm.drill.netns;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A real 3-server (one per host) ZooKeeper ensemble on a {@link NetBed}: ZooKeeper's own
 * {@code QuorumPeerMain} from the project's zookeeper jar, one JVM per host namespace, each with
 * its own zoo.cfg and myid, client, quorum and election ports on the host's bed address.
 * TLS only, with the generator's {@code zoo-tls.cfg} lines of the node on that host
 * ({@link NetnsSecrets#zookeeperServerConfig}): the secure client port on the bed address and no
 * plain one, client certificates of the instance CA required, TLS between the servers
 * ({@code sslQuorum}). Fast ticks (200 ms) keep elections and session expiry short for tests.
 */
public final class ZkEnsemble implements AutoCloseable {
    public static final int CLIENT_PORT = NetnsSecrets.ZOOKEEPER_PORT;
    private static final int QUORUM_PORT = 2888;
    private static final int ELECTION_PORT = 3888;
    private static final int TICK_MS = 200;

    private final NetBed bed;
    // Host N's server at index N-1, with the command line and log that start it again.
    private final List<Process> servers = new ArrayList<>();
    private final List<List<String>> commands = new ArrayList<>();
    private final List<Path> logs = new ArrayList<>();

    private ZkEnsemble(NetBed bed) {
        this.bed = bed;
    }

    /**
     * Starts one server on every host of {@code bed}, host N with the TLS files of the N-th node of
     * {@code secrets}; their data and logs go under {@code dir}.
     */
    public static ZkEnsemble start(NetBed bed, NetnsSecrets secrets, Path dir) throws IOException {
        List<String> nodes = List.copyOf(secrets.addresses().keySet());
        if (nodes.size() != bed.hosts().size()) {
            throw new IllegalArgumentException(nodes.size() + " nodes' secrets for " + bed.hosts().size() + " hosts");
        }
        ZkEnsemble e = new ZkEnsemble(bed);
        String members = bed.hosts().stream()
                .map(h -> "server." + h.index() + "=" + h.address() + ":" + QUORUM_PORT + ":" + ELECTION_PORT)
                .collect(Collectors.joining("\n"));
        try {
            for (NetBed.Host h : bed.hosts()) {
                Path hostDir = Files.createDirectories(dir.resolve("zk-" + h.name()));
                Path data = Files.createDirectories(hostDir.resolve("data"));
                Files.writeString(data.resolve("myid"), h.index() + "\n");
                Path cfg = hostDir.resolve("zoo.cfg");
                List<String> lines = new ArrayList<>(List.of(
                        "tickTime=" + TICK_MS,
                        "initLimit=25",
                        "syncLimit=5",
                        "dataDir=" + data,
                        "standaloneEnabled=false",
                        "admin.enableServer=false",
                        // Session timeouts of 2 s and up (the node's minimum) must be allowed.
                        "minSessionTimeout=" + (2 * TICK_MS),
                        "maxSessionTimeout=120000",
                        members));
                // No clientPort: only the secure port is served (on the bed address, from these lines).
                lines.addAll(secrets.zookeeperServerConfig(nodes.get(h.index() - 1)));
                Files.writeString(cfg, String.join("\n", lines) + "\n");
                e.commands.add(NetBed.java(
                        List.of("-Xmx128m", "-XX:TieredStopAtLevel=1", "-Dzookeeper.jmx.log4j.disable=true",
                                "-Dlogback.configurationFile=" + NetBed.logback(hostDir, "INFO")),
                        "org.apache.zookeeper.server.quorum.QuorumPeerMain", List.of(cfg.toString())));
                e.logs.add(hostDir.resolve("server.log"));
                e.servers.add(bed.start(h, e.commands.get(h.index() - 1), e.logs.get(h.index() - 1)));
            }
        } catch (IOException | RuntimeException ex) {
            e.close();
            throw ex;
        }
        return e;
    }

    /** Stops {@code host}'s server (SIGKILL, as a crash or a pulled plug would; its data directory stays). */
    public synchronized void stop(NetBed.Host host) {
        NetBed.kill(List.of(servers.get(host.index() - 1)));
    }

    /** Starts {@code host}'s server again (after {@link #stop}) on its data, its output appended to the same log. */
    public synchronized void start(NetBed.Host host) throws IOException {
        Process old = servers.get(host.index() - 1);
        if (old.isAlive()) {
            throw new IllegalStateException("the server of " + host.name() + " is running (pid " + old.pid() + ")");
        }
        servers.set(host.index() - 1, bed.start(host, commands.get(host.index() - 1), logs.get(host.index() - 1)));
    }

    /** host:port of every server's secure client port, for a client on the bed. */
    public String connectString() {
        return bed.hosts().stream().map(h -> h.address() + ":" + CLIENT_PORT).collect(Collectors.joining(","));
    }

    /** The server of {@code host} alone (a client that must talk to this host's server). */
    public static String connectString(NetBed.Host host) {
        return host.address() + ":" + CLIENT_PORT;
    }

    @Override
    public synchronized void close() {
        NetBed.kill(servers);
    }
}

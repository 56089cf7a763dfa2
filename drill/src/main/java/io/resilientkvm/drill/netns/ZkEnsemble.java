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
 * Fast ticks (200 ms) keep elections and session expiry short for tests.
 */
public final class ZkEnsemble implements AutoCloseable {
    public static final int CLIENT_PORT = 2181;
    private static final int QUORUM_PORT = 2888;
    private static final int ELECTION_PORT = 3888;
    private static final int TICK_MS = 200;

    private final NetBed bed;
    private final List<Process> servers = new ArrayList<>();

    private ZkEnsemble(NetBed bed) {
        this.bed = bed;
    }

    /** Starts one server on every host of {@code bed}; their files go under {@code dir}. */
    public static ZkEnsemble start(NetBed bed, Path dir) throws IOException {
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
                Files.writeString(cfg, String.join("\n",
                        "tickTime=" + TICK_MS,
                        "initLimit=25",
                        "syncLimit=5",
                        "dataDir=" + data,
                        "clientPort=" + CLIENT_PORT,
                        "clientPortAddress=" + h.address(),
                        "standaloneEnabled=false",
                        "admin.enableServer=false",
                        // Session timeouts of 2 s and up (the node's minimum) must be allowed.
                        "minSessionTimeout=" + (2 * TICK_MS),
                        "maxSessionTimeout=120000",
                        members, ""));
                e.servers.add(bed.start(h, NetBed.java(
                        List.of("-Xmx128m", "-XX:TieredStopAtLevel=1", "-Dzookeeper.jmx.log4j.disable=true",
                                "-Dlogback.configurationFile=" + NetBed.logback(hostDir, "INFO")),
                        "org.apache.zookeeper.server.quorum.QuorumPeerMain", List.of(cfg.toString())), hostDir.resolve("server.log")));
            }
        } catch (IOException | RuntimeException ex) {
            e.close();
            throw ex;
        }
        return e;
    }

    /** host:port of every server, for a client on the bed. */
    public String connectString() {
        return bed.hosts().stream().map(h -> h.address() + ":" + CLIENT_PORT).collect(Collectors.joining(","));
    }

    /** The server of {@code host} alone (a client that must talk to this host's server). */
    public static String connectString(NetBed.Host host) {
        return host.address() + ":" + CLIENT_PORT;
    }

    @Override
    public void close() {
        NetBed.kill(servers);
    }
}

package io.resilientkvm.drill.netns;

import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Several "hosts" on this machine: one Linux network namespace per host, each with a veth link to
 * a bridge that lives in a namespace of its own, so the root namespace's interfaces, routes and
 * firewall are never touched. Hosts get 198.18.0.N/24 (the benchmarking range) and no default
 * route, so nothing they send can leave the bed. {@link #cut} takes a host's link down
 * (netem is not available here), {@link #heal} brings it back.
 *
 * <p>Names are {@code rkvm-PID-RANDOM-hN} and {@code rkvm-PID-RANDOM-br}: {@link #create} first
 * deletes beds whose creating JVM is gone; {@link #close} (and a shutdown hook, for a JVM that
 * dies mid-run) kills the processes inside and deletes every namespace the bed made.
 *
 * <p>A bed may also have an operator host ({@code rkvm-PID-RANDOM-op}, 198.18.0.10): where the
 * drill's controller runs, so that it reaches the hosts' ZooKeeper servers and forwards over the
 * bed like any other host would. Another JVM (that controller) uses the bed with {@link #attach},
 * which starts processes on it but leaves the namespaces to the bed's owner.
 */
public final class NetBed implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NetBed.class);
    private static final String PREFIX = "rkvm-";
    private static final Path NETNS_DIR = Path.of("/run/netns");
    /** Inside a host namespace the link is always {@code eth0}; in the bridge namespace, {@code hN}. */
    private static final String HOST_DEVICE = "eth0";
    /** {@link #block}'s rules take preferences from here up, ahead of the local table moved to {@link #LOCAL_RULE}. */
    private static final int FIRST_BLOCK_RULE = 10;
    private static final int LOCAL_RULE = 1000;
    private final java.util.concurrent.atomic.AtomicInteger nextBlockRule = new java.util.concurrent.atomic.AtomicInteger(FIRST_BLOCK_RULE);
    /** The operator host's index: its address is 198.18.0.10, outside the hosts' 1..9 of the drill. */
    public static final int OPERATOR_INDEX = 10;
    /** What a run without root is told: one line, with what to do. */
    public static final String NEEDS_ROOT = "needs root to create network namespaces (run as root, or run bin/drill without --hosts)";

    /** One host: its namespace, its address on the bed, and its link's name on the bridge side. */
    public record Host(int index, String namespace, String address, String bridgePort) {
        public String name() {
            return index == OPERATOR_INDEX ? "op" : "h" + index;
        }
    }

    private final String id;
    private final List<Host> hosts;
    private final Optional<Host> operator;
    /** False for a bed {@link #attach}ed to: its namespaces belong to the JVM that created it. */
    private final boolean owner;
    private final List<String> namespaces = Collections.synchronizedList(new ArrayList<>());
    private final List<Process> processes = Collections.synchronizedList(new ArrayList<>());
    private final Thread hook = new Thread(this::deleteAll, "netbed-cleanup");
    private boolean closed;

    private NetBed(String id, int count, boolean withOperator, boolean owner) {
        this.id = id;
        this.owner = owner;
        List<Host> h = new ArrayList<>();
        for (int i = 1; i <= count; i++) {
            h.add(host(id, i));
        }
        this.hosts = List.copyOf(h);
        this.operator = withOperator ? Optional.of(host(id, OPERATOR_INDEX)) : Optional.empty();
    }

    private static Host host(String id, int index) {
        String name = index == OPERATOR_INDEX ? "op" : "h" + index;
        return new Host(index, id + "-" + name, "198.18.0." + index, name);
    }

    /** Refuses (with {@link #NEEDS_ROOT}) when this process cannot create namespaces. */
    public static void requireRoot() throws BadInputException {
        if (!isRoot()) {
            throw new BadInputException(NEEDS_ROOT);
        }
    }

    /** Whether this process runs as root (what creating network namespaces needs). */
    public static boolean isRoot() {
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

    /** A bed of {@code count} hosts (at most 9) on one bridge, all links up. */
    public static NetBed create(int count) throws IOException {
        return create(count, false);
    }

    /** A bed of {@code count} hosts (1 to 9), and the operator host when {@code withOperator}, on one bridge, all links up. */
    public static NetBed create(int count, boolean withOperator) throws IOException {
        if (count < 1 || count >= OPERATOR_INDEX) {
            throw new IllegalArgumentException("a bed has 1 to " + (OPERATOR_INDEX - 1) + " hosts, asked for " + count);
        }
        sweepStale();
        String id = PREFIX + ProcessHandle.current().pid() + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000));
        NetBed bed = new NetBed(id, count, withOperator, true);
        Runtime.getRuntime().addShutdownHook(bed.hook);
        try {
            String br = bed.bridgeNamespace();
            bed.addNamespace(br);
            ip("-n", br, "link", "add", "br0", "type", "bridge");
            ip("-n", br, "link", "set", "br0", "up");
            List<Host> all = new ArrayList<>(bed.hosts);
            bed.operator.ifPresent(all::add);
            for (Host h : all) {
                bed.addNamespace(h.namespace());
                ip("-n", h.namespace(), "link", "set", "lo", "up");
                // The local table after the bed's blocks (see block): a host's own address can be refused too.
                ip("-n", h.namespace(), "rule", "add", "pref", Integer.toString(LOCAL_RULE), "lookup", "local");
                ip("-n", h.namespace(), "rule", "del", "pref", "0");
                // Both ends are created inside the bed's namespaces: nothing appears in the root namespace.
                ip("-n", br, "link", "add", h.bridgePort(), "type", "veth", "peer", "name", HOST_DEVICE, "netns", h.namespace());
                ip("-n", br, "link", "set", h.bridgePort(), "master", "br0");
                ip("-n", br, "link", "set", h.bridgePort(), "up");
                ip("-n", h.namespace(), "addr", "add", h.address() + "/24", "dev", HOST_DEVICE);
                ip("-n", h.namespace(), "link", "set", HOST_DEVICE, "up");
            }
        } catch (IOException | RuntimeException e) {
            bed.close();
            throw e;
        }
        LOG.info("network bed {} up: {}{}", id, bed.hosts, bed.operator.map(o -> ", operator " + o).orElse(""));
        return bed;
    }

    /**
     * The bed {@code id} made by another JVM (see {@link #id()}), to start processes on; closing it
     * kills those processes only. Refused when one of its namespaces is missing.
     */
    public static NetBed attach(String id, int count, boolean withOperator) throws IOException {
        if (!id.matches("rkvm-[0-9]+-[0-9a-f]+") || count < 1 || count >= OPERATOR_INDEX) {
            throw new IllegalArgumentException("not a bed: " + id + " with " + count + " hosts");
        }
        NetBed bed = new NetBed(id, count, withOperator, false);
        List<Host> all = new ArrayList<>(bed.hosts);
        bed.operator.ifPresent(all::add);
        for (Host h : all) {
            if (!Files.exists(NETNS_DIR.resolve(h.namespace()))) {
                throw new IOException("network namespace " + h.namespace() + " of bed " + id + " does not exist");
            }
        }
        Runtime.getRuntime().addShutdownHook(bed.hook);
        return bed;
    }

    /** The bed's name, for {@link #attach}. */
    public String id() {
        return id;
    }

    public List<Host> hosts() {
        return hosts;
    }

    /** The operator host (198.18.0.10), when the bed has one. */
    public Optional<Host> operator() {
        return operator;
    }

    public Host host(int index) {
        return hosts.get(index - 1);
    }

    String bridgeNamespace() {
        return id + "-br";
    }

    /** Takes {@code host}'s only link down: it reaches no other host (its loopback still works). */
    public void cut(Host host) throws IOException {
        ip("-n", host.namespace(), "link", "set", HOST_DEVICE, "down");
        LOG.info("cut {} ({})", host.name(), host.address());
    }

    /** Brings {@code host}'s link back up (the address stays configured). */
    public void heal(Host host) throws IOException {
        ip("-n", host.namespace(), "link", "set", HOST_DEVICE, "up");
        LOG.info("healed {} ({})", host.name(), host.address());
    }

    /**
     * What {@link #block} refuses: an {@code ip rule} selector, matched on the packets a host sends
     * (a TCP connection needs both ways, so refusing one side's packets cuts it).
     */
    public record Traffic(String description, List<String> selector) {
        /** Everything {@code host} sends to {@code to}'s address. */
        public static Traffic to(Host to) {
            return new Traffic("to " + to.name() + " (" + to.address() + ")", List.of("to", to.address() + "/32"));
        }

        /** TCP connections to port {@code port} on any address, the host's own included. */
        public static Traffic tcpPort(int port) {
            return new Traffic("to TCP port " + port, List.of("ipproto", "tcp", "dport", Integer.toString(port)));
        }
    }

    /**
     * A block in force on one host; closing lifts it (once).
     */
    public final class Block implements AutoCloseable {
        private final Host host;
        private final List<Integer> prefs;
        private final String what;
        private boolean lifted;

        private Block(Host host, List<Integer> prefs, String what) {
            this.host = host;
            this.prefs = prefs;
            this.what = what;
        }

        @Override
        public synchronized void close() throws IOException {
            if (lifted) {
                return;
            }
            lifted = true;
            for (int pref : prefs) {
                ip("-n", host.namespace(), "rule", "del", "pref", Integer.toString(pref));
            }
            LOG.info("lifted the block on {}: {}", host.name(), what);
        }
    }

    /**
     * Refuses {@code traffic} sent by {@code host} until the block is closed: a partial partition
     * (the main cut from ZooKeeper only, or from one clone) where {@link #cut} takes everything.
     * A policy-routing rule ({@code prohibit}) per selector, ahead of the local table, so new
     * connections and the packets of open ones fail at once on that host (EACCES), whatever the
     * destination; the other hosts' links stay up.
     */
    public Block block(Host host, Traffic... traffic) throws IOException {
        List<Integer> prefs = new ArrayList<>();
        List<String> what = new ArrayList<>();
        try {
            for (Traffic t : traffic) {
                int pref = nextBlockRule.getAndIncrement();
                if (pref >= LOCAL_RULE) {
                    throw new IllegalStateException("more than " + (LOCAL_RULE - FIRST_BLOCK_RULE) + " blocks on one bed");
                }
                // "iif lo": what the host sends; without it a port rule would refuse its incoming connections too.
                List<String> cmd = new ArrayList<>(List.of("-n", host.namespace(), "rule", "add", "pref", Integer.toString(pref),
                        "iif", "lo"));
                cmd.addAll(t.selector());
                cmd.add("prohibit");
                ip(cmd.toArray(String[]::new));
                prefs.add(pref);
                what.add(t.description());
            }
        } catch (IOException | RuntimeException e) {
            new Block(host, prefs, String.join(", ", what)).close();
            throw e;
        }
        String all = String.join(", ", what);
        LOG.info("blocked on {} ({}): {}", host.name(), host.address(), all);
        return new Block(host, List.copyOf(prefs), all);
    }

    /** The prefix that runs a command inside {@code host}'s namespace. */
    public List<String> inside(Host host) {
        return List.of("ip", "netns", "exec", host.namespace());
    }

    /** Starts {@code command} inside {@code host}'s namespace, output appended to {@code log}; killed by {@link #close}. */
    public Process start(Host host, List<String> command, Path log) throws IOException {
        List<String> cmd = new ArrayList<>(inside(host));
        cmd.addAll(command);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        processes.add(p);
        return p;
    }

    /** Like {@link #start} but with stdin and stdout as pipes to the caller (stderr to {@code log}). */
    public Process startPiped(Host host, List<String> command, Path log) throws IOException {
        return startPiped(host, command, ProcessBuilder.Redirect.appendTo(log.toFile()));
    }

    /** Like {@link #start} but with stdin and stdout as pipes to the caller, stderr to {@code stderr}. */
    public Process startPiped(Host host, List<String> command, ProcessBuilder.Redirect stderr) throws IOException {
        List<String> cmd = new ArrayList<>(inside(host));
        cmd.addAll(command);
        Process p = new ProcessBuilder(cmd).redirectError(stderr).start();
        processes.add(p);
        return p;
    }

    /** The command line of a JVM with this JVM's class path (run it with {@link #start}). */
    public static List<String> java(List<String> jvmOptions, String mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path")));
        cmd.addAll(jvmOptions);
        cmd.add(mainClass);
        cmd.addAll(args);
        return cmd;
    }

    /** A logback file for the bed's JVMs: {@code level} and up to stderr (stdout may be a protocol). */
    public static String logback(Path dir, String level) throws IOException {
        Path f = dir.resolve("logback-" + level.toLowerCase(java.util.Locale.ROOT) + ".xml");
        Files.writeString(f, """
                <configuration>
                  <appender name="ERR" class="ch.qos.logback.core.ConsoleAppender">
                    <target>System.err</target>
                    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level [%thread] %logger{20} - %msg%n</pattern></encoder>
                  </appender>
                  <root level="LEVEL"><appender-ref ref="ERR"/></root>
                </configuration>
                """.replace("LEVEL", level));
        return f.toString();
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        deleteAll();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // Already shutting down: the hook is running or has run.
        }
    }

    /** SIGKILLs {@code all} and their children, then waits (at most 10 s each) for them to end. */
    public static void kill(List<Process> all) {
        for (Process p : all) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (Process p : all) {
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void addNamespace(String name) throws IOException {
        ip("netns", "add", name);
        namespaces.add(name);
    }

    private void deleteAll() {
        synchronized (processes) {
            kill(processes);
        }
        if (!owner) {
            return;
        }
        synchronized (namespaces) {
            for (String ns : namespaces) {
                deleteNamespace(ns);
            }
            namespaces.clear();
        }
    }

    /** Kills what still runs in {@code ns} (only processes of this bed's tests run there) and deletes it. */
    private static void deleteNamespace(String ns) {
        try {
            for (String pid : ipOutput("netns", "pids", ns).split("\\s+")) {
                if (!pid.isBlank()) {
                    ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
                }
            }
            ip("netns", "delete", ns);
        } catch (IOException | RuntimeException e) {
            LOG.warn("could not delete network namespace {}: {} (delete it with: ip netns delete {})", ns, e.getMessage(), ns);
        }
    }

    /** Deletes the namespaces of beds whose JVM is gone (a test JVM killed before its hook ran). */
    static void sweepStale() throws IOException {
        if (!Files.isDirectory(NETNS_DIR)) {
            return;
        }
        try (var names = Files.list(NETNS_DIR)) {
            for (String ns : names.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(PREFIX)).toList()) {
                String[] parts = ns.split("-");
                if (parts.length >= 4 && parts[1].matches("[0-9]+")
                        && ProcessHandle.of(Long.parseLong(parts[1])).map(ProcessHandle::isAlive).orElse(false)) {
                    continue; // Its JVM still runs: another bed in use.
                }
                LOG.info("deleting stale network namespace {}", ns);
                deleteNamespace(ns);
            }
        }
    }

    static void ip(String... args) throws IOException {
        ipOutput(args);
    }

    private static String ipOutput(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " did not finish within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted: " + String.join(" ", cmd), e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.exitValue() != 0) {
            throw new IOException(String.join(" ", cmd) + " failed (exit " + p.exitValue() + "): " + out.strip());
        }
        return out;
    }
}

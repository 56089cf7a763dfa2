package io.resilientkvm.drill;

import io.resilientkvm.engine.instance.InstanceLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One node agent ({@code bin/node}) of the drill, a separate JVM with its own log. Closing it
 * stops the agent with SIGTERM (a clean stop); {@link #killHard()} is the disaster: SIGKILL of
 * the agent and of its QEMU, nothing saved.
 */
final class NodeProcess implements AutoCloseable {
    private final String node;
    private final Path config;
    private final InstanceLayout layout;
    private final Path log;
    private final List<String> inside;
    private Process process;

    private NodeProcess(String node, Path config, InstanceLayout layout, Path log, List<String> inside) {
        this.inside = List.copyOf(inside);
        this.node = node;
        this.config = config;
        this.layout = layout;
        this.log = log;
    }

    /** Starts the agent; {@code inside} prefixes its command (e.g. {@code ip netns exec NS}: on a bed host), or is empty. */
    static NodeProcess start(String node, Path config, InstanceLayout layout, Path logDir, List<String> inside) throws IOException {
        NodeProcess p = new NodeProcess(node, config, layout, logDir.resolve(node + ".log"), inside);
        p.launch();
        return p;
    }

    /** Starts (again) the agent with the same configuration; the log is appended to. */
    void launch() throws IOException {
        // ip netns exec execs the command: the process is the agent's JVM itself, signals reach it.
        List<String> cmd = new ArrayList<>(inside);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx256m");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("io.resilientkvm.cli.node.NodeCommand");
        cmd.add("--config");
        cmd.add(config.toString());
        Files.createDirectories(log.getParent());
        process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    String node() {
        return node;
    }

    Path config() {
        return config;
    }

    InstanceLayout layout() {
        return layout;
    }

    Path log() {
        return log;
    }

    /** Completes when the agent's process ends (at once if none runs). */
    java.util.concurrent.CompletableFuture<Process> onExit() {
        return process == null ? java.util.concurrent.CompletableFuture.completedFuture(null) : process.onExit();
    }

    /** The agent's exit code; -1 while it runs or if it never ran. */
    int exitValue() {
        return process == null || process.isAlive() ? -1 : process.exitValue();
    }

    boolean isAlive() {
        return process != null && process.isAlive();
    }

    /** The QEMU this node runs, if any (from its pid file). */
    Optional<ProcessHandle> qemu() {
        try {
            if (!Files.exists(layout.pidFile())) {
                return Optional.empty();
            }
            long pid = Long.parseLong(Files.readString(layout.pidFile()).strip());
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive);
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** The disaster: SIGKILL of the agent and of its VM at once. */
    void killHard() throws InterruptedException {
        Optional<ProcessHandle> vm = qemu();
        if (process != null) {
            process.destroyForcibly();
        }
        vm.ifPresent(ProcessHandle::destroyForcibly);
        if (process != null) {
            process.waitFor(30, TimeUnit.SECONDS);
        }
        if (vm.isPresent()) {
            vm.get().onExit().orTimeout(30, TimeUnit.SECONDS).exceptionally(e -> null).join();
        }
    }

    @Override
    public void close() {
        if (process == null || !process.isAlive()) {
            qemu().ifPresent(ProcessHandle::destroyForcibly);
            return;
        }
        process.destroy(); // SIGTERM: the agent quits QEMU cleanly
        try {
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        qemu().ifPresent(ProcessHandle::destroyForcibly);
    }
}

package io.resilientkvm.engine.watchdog;

import io.resilientkvm.engine.process.ProcStat;
import io.resilientkvm.engine.process.QemuProcess;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's end of one {@link VmKeeper}: starts the keeper's JVM for a running QEMU and writes
 * the renewals to its stdin. Closing it releases the keeper (it exits and leaves QEMU to the
 * agent, which stops it itself); the agent's death closes the pipe and the keeper kills QEMU.
 */
public final class VmWatchdog implements QemuProcess.Guard {
    private static final Logger LOG = LoggerFactory.getLogger(VmWatchdog.class);
    /** A small JVM that settles at once: the quick JIT only, a serial collector and a heap it never fills. */
    static final List<String> JVM_OPTIONS = List.of("-Xmx16m", "-Xms16m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
            "-XX:-UsePerfData", "-Xss512k");
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration EXIT_TIMEOUT = Duration.ofSeconds(10);

    private final Process keeper;
    private final long qemuPid;
    private final OutputStream pipe;
    private final AtomicBoolean released = new AtomicBoolean();

    private VmWatchdog(Process keeper, long qemuPid) {
        this.keeper = keeper;
        this.qemuPid = qemuPid;
        this.pipe = keeper.getOutputStream();
    }

    /**
     * Starts a keeper for QEMU {@code qemuPid} with its deadline at {@code firstProofNanos + lease};
     * returns once the keeper holds a pidfd on that very process (checked by its start time).
     */
    public static VmWatchdog start(long qemuPid, Duration lease, long firstProofNanos, Path log) throws IOException {
        ProcStat qemu = ProcStat.read(qemuPid).orElseThrow(() -> new IOException("QEMU pid " + qemuPid + " is gone"));
        Files.createDirectories(log.toAbsolutePath().getParent());
        List<String> argv = new java.util.ArrayList<>();
        argv.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        argv.addAll(JVM_OPTIONS);
        argv.addAll(List.of("-cp", System.getProperty("java.class.path"), VmKeeper.class.getName(), Long.toString(qemuPid),
                Long.toString(qemu.startTime()), Long.toString(lease.toMillis()), Long.toString(firstProofNanos)));
        Process p = new ProcessBuilder(argv).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        VmWatchdog w = new VmWatchdog(p, qemuPid);
        try {
            w.awaitReady(log);
        } catch (IOException e) {
            p.destroyForcibly();
            throw e;
        }
        LOG.info("VM keeper pid {} guards QEMU pid {} (lease {} ms; log {})", p.pid(), qemuPid, lease.toMillis(), log);
        return w;
    }

    private void awaitReady(Path log) throws IOException {
        BufferedReader out = new BufferedReader(new InputStreamReader(keeper.getInputStream(), StandardCharsets.US_ASCII));
        CompletableFuture<String> ready = CompletableFuture.supplyAsync(() -> {
            try {
                return out.readLine();
            } catch (IOException e) {
                return null;
            }
        });
        String line;
        try {
            line = ready.get(READY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IOException("the VM keeper of QEMU pid " + qemuPid + " did not start within " + READY_TIMEOUT.toSeconds()
                    + " s; see " + log);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while the VM keeper of QEMU pid " + qemuPid + " started", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IOException("the VM keeper of QEMU pid " + qemuPid + " failed to start: " + e.getCause(), e);
        }
        if (!"READY".equals(line)) {
            throw new IOException("the VM keeper of QEMU pid " + qemuPid + " exited before watching it: " + QemuTail.of(log));
        }
    }

    /** Moves the keeper's deadline to {@code proofNanos + lease}; false when the keeper is gone. */
    public synchronized boolean renew(long proofNanos) {
        return write("R " + proofNanos + "\n");
    }

    /** Tells the keeper to kill QEMU now (SIGKILL) and exit. */
    public synchronized void kill() {
        if (released.compareAndSet(false, true)) {
            write("K\n");
            awaitExit();
        }
    }

    /** The keeper exits and leaves QEMU as it is: the agent stops QEMU itself. Idempotent. */
    @Override
    public void release() {
        if (released.compareAndSet(false, true)) {
            synchronized (this) {
                write("X\n");
            }
            awaitExit();
        }
    }

    /** True once this end released or killed through the keeper; an exit before that was unexpected. */
    boolean released() {
        return released.get();
    }

    public long keeperPid() {
        return keeper.pid();
    }

    public long qemuPid() {
        return qemuPid;
    }

    /** Completes when the keeper's process exits, for whatever reason. */
    public CompletableFuture<Process> onExit() {
        return keeper.onExit();
    }

    public boolean isAlive() {
        return keeper.isAlive();
    }

    /** Closes the keeper's stdin as the agent's death does (the kernel closes its end): for tests. */
    void closePipe() throws IOException {
        pipe.close();
    }

    private boolean write(String command) {
        try {
            pipe.write(command.getBytes(StandardCharsets.US_ASCII));
            pipe.flush();
            return true;
        } catch (IOException e) {
            LOG.debug("VM keeper pid {} does not read its pipe: {}", keeper.pid(), e.getMessage());
            return false;
        }
    }

    private void awaitExit() {
        try {
            if (!keeper.waitFor(EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.warn("VM keeper pid {} did not exit within {} s; killing it", keeper.pid(), EXIT_TIMEOUT.toSeconds());
                keeper.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            keeper.destroyForcibly();
        }
        try {
            pipe.close();
        } catch (IOException e) {
            LOG.debug("closing the keeper's pipe: {}", e.getMessage());
        }
    }

    /** The end of the keeper's log, for a one-line message. */
    private static final class QemuTail {
        static String of(Path log) {
            try {
                List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
                return lines.isEmpty() ? "(no output)" : String.join(" | ", lines.subList(Math.max(0, lines.size() - 3), lines.size()));
            } catch (IOException e) {
                return "(cannot read " + log + ")";
            }
        }
    }
}

package io.resilientkvm.engine.process;

import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running QEMU and the supervisor's QMP connection to it. {@link #start} returns only once
 * QEMU answers QMP; if QEMU exits first, the exception carries the end of its output.
 * {@link #close()} stops it gracefully if it still runs.
 */
public final class QemuProcess implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QemuProcess.class);
    private static final Duration POLL = Duration.ofMillis(20);
    private static final int LOG_TAIL_LINES = 20;

    private final QemuLaunch launch;
    private final Process process;
    private final QmpClient qmp;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** What outside this JVM may pause or kill this QEMU (the VM keeper); released before any stop. */
    private volatile Guard guard;

    /**
     * Something outside this JVM that pauses or kills this QEMU when the JVM stops vouching for it
     * ({@code engine.watchdog.VmWatchdog}). Released before this process stops QEMU itself.
     */
    public interface Guard {
        /** Stops guarding and leaves QEMU as it is; idempotent. */
        void release();
    }

    private QemuProcess(QemuLaunch launch, Process process, QmpClient qmp) {
        this.launch = launch;
        this.process = process;
        this.qmp = qmp;
    }

    /** Starts QEMU and waits until its QMP socket answers, within {@code launch.startTimeout()}. */
    public static QemuProcess start(QemuLaunch launch) throws QemuStartException {
        try {
            Files.createDirectories(launch.logFile().toAbsolutePath().getParent());
            // A socket left by a killed QEMU would make us connect to nothing; QEMU recreates it.
            Files.deleteIfExists(launch.qmpSocket());
        } catch (IOException e) {
            throw new QemuStartException("cannot prepare " + launch.logFile() + " or " + launch.qmpSocket() + ": " + e.getMessage(), e);
        }
        long logStart = sizeOf(launch.logFile());
        ProcessBuilder pb = new ProcessBuilder(launch.argv())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(launch.logFile().toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process process;
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new QemuStartException("cannot run " + launch.argv().get(0) + ": " + e.getMessage()
                    + " (install QEMU: apt-get install qemu-system-x86 qemu-utils)", e);
        }
        LOG.info("QEMU started, pid {}, QMP {}", process.pid(), launch.qmpSocket());
        long deadline = System.nanoTime() + launch.startTimeout().toNanos();
        QmpException lastError = null;
        while (true) {
            if (!process.isAlive()) {
                throw new QemuStartException("QEMU exited during start with code " + exitCodeOf(process) + ": "
                        + tail(launch.logFile(), logStart) + " (full log: " + launch.logFile() + ")");
            }
            if (Files.exists(launch.qmpSocket())) {
                try {
                    QmpClient qmp = QmpClient.connect(launch.qmpSocket(), Duration.ofSeconds(5));
                    return new QemuProcess(launch, process, qmp);
                } catch (QmpException e) {
                    lastError = e; // the socket may exist a moment before QEMU listens
                }
            }
            if (System.nanoTime() > deadline) {
                process.destroyForcibly();
                waitQuietly(process, Duration.ofSeconds(10));
                throw new QemuStartException("QEMU did not answer QMP on " + launch.qmpSocket() + " within "
                        + launch.startTimeout().toSeconds() + " s; killed it"
                        + (lastError == null ? "" : " (last error: " + lastError.getMessage() + ")")
                        + ". Its output: " + tail(launch.logFile(), logStart));
            }
            try {
                pause(POLL);
            } catch (QemuStartException interrupted) {
                // The caller gave up on this start (a fence, a shutdown): the QEMU spawned must not outlive it.
                process.destroyForcibly();
                Thread.interrupted(); // so that the wait for the kill is not cut short; restored below
                waitQuietly(process, Duration.ofSeconds(10));
                Thread.currentThread().interrupt();
                launch.pidFile().ifPresent(QemuProcess::deleteQuietly);
                throw interrupted;
            }
        }
    }

    public QmpClient qmp() {
        return qmp;
    }

    /** Hands this QEMU to {@code g}, which is released when this process stops or kills QEMU. */
    public void guardWith(Guard g) {
        guard = g;
    }

    private void releaseGuard() {
        Guard g = guard;
        if (g != null) {
            g.release();
        }
    }

    /**
     * True when QEMU is stopped by a signal: its watchdog paused it. Such a QEMU is killed, never
     * resumed for a graceful stop, which would let its guest run again beside a new main.
     */
    private boolean pausedBySignal() {
        try {
            return ProcStat.read(pid()).map(ProcStat::stopped)
                    .orElse(false);
        } catch (IOException e) {
            return false;
        }
    }

    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public QemuLaunch launch() {
        return launch;
    }

    /** Completes with the exit code when QEMU exits, for whatever reason. */
    public CompletableFuture<Integer> onExit() {
        return process.onExit().thenApply(Process::exitValue);
    }

    /** The exit code, if QEMU has exited. */
    public OptionalInt exitCode() {
        return process.isAlive() ? OptionalInt.empty() : OptionalInt.of(process.exitValue());
    }

    /** The last lines QEMU wrote to its log since the start of this process. */
    public String outputTail() {
        return tail(launch.logFile(), 0);
    }

    /**
     * Stops QEMU: {@code system_powerdown} if the guest runs and the policy allows, then
     * {@code quit}, then SIGKILL, each bounded by the policy. Returns the exit code.
     */
    public int stop(StopPolicy policy) {
        releaseGuard();
        if (process.isAlive() && pausedBySignal()) {
            LOG.warn("QEMU pid {} was paused by its watchdog: killing it rather than resuming it to quit", pid());
            kill(policy.killTimeout());
            launch.pidFile().ifPresent(QemuProcess::deleteQuietly);
            return process.isAlive() ? -1 : process.exitValue();
        }
        try {
            if (process.isAlive() && !policy.powerdownTimeout().isZero() && guestRunning()) {
                LOG.info("Powering down the guest of QEMU pid {} (up to {} s)", pid(), policy.powerdownTimeout().toSeconds());
                qmp.execute("system_powerdown");
                waitQuietly(process, policy.powerdownTimeout());
            }
            if (process.isAlive()) {
                LOG.info("Sending quit to QEMU pid {}", pid());
                try {
                    qmp.execute("quit", null, policy.quitTimeout());
                } catch (QmpException e) {
                    // quit often closes the socket before the reply arrives
                    LOG.debug("quit: {}", e.getMessage());
                }
                waitQuietly(process, policy.quitTimeout());
            }
        } catch (QmpException e) {
            LOG.warn("QEMU pid {} did not stop through QMP ({}); killing it", pid(), e.getMessage());
        }
        if (process.isAlive()) {
            LOG.warn("QEMU pid {} still runs after quit; sending SIGKILL", pid());
            kill(policy.killTimeout());
        }
        qmp.close();
        launch.pidFile().ifPresent(QemuProcess::deleteQuietly);
        return process.isAlive() ? -1 : process.exitValue();
    }

    /** SIGKILL, as a crash or a fence would: QEMU writes nothing more. */
    public void kill(Duration timeout) {
        releaseGuard();
        process.destroyForcibly();
        if (!waitQuietly(process, timeout)) {
            LOG.error("QEMU pid {} survived SIGKILL for {} s", pid(), timeout.toSeconds());
        }
        qmp.close();
    }

    private boolean guestRunning() throws QmpException {
        return "running".equals(qmp.execute("query-status").path("status").asText());
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true) && process.isAlive()) {
            stop(StopPolicy.QUIT);
        }
        releaseGuard();
        qmp.close();
    }

    private static boolean waitQuietly(Process process, Duration timeout) {
        try {
            return process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !process.isAlive();
        }
    }

    private static void pause(Duration d) throws QemuStartException {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QemuStartException("interrupted while waiting for QEMU to start", e);
        }
    }

    private static int exitCodeOf(Process p) {
        waitQuietly(p, Duration.ofSeconds(5));
        return p.isAlive() ? -1 : p.exitValue();
    }

    private static long sizeOf(Path file) {
        try {
            return Files.exists(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.debug("cannot delete {}", file, e);
        }
    }

    /** The last lines of {@code file} from byte {@code from} on, joined with " | " for one-line messages. */
    static String tail(Path file, long from) {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            long start = Math.max(from, raf.length() - 8192);
            raf.seek(start);
            byte[] bytes = new byte[(int) (raf.length() - start)];
            raf.readFully(bytes);
            String[] lines = new String(bytes, StandardCharsets.UTF_8).strip().split("\n");
            int first = Math.max(0, lines.length - LOG_TAIL_LINES);
            String joined = String.join(" | ", java.util.Arrays.copyOfRange(lines, first, lines.length)).strip();
            return joined.isEmpty() ? "(no output)" : joined;
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }

    @Override
    public String toString() {
        return "QemuProcess[pid " + pid() + (isAlive() ? "" : ", exited") + ", qmp " + launch.qmpSocket() + "]";
    }
}

package io.resilientkvm.it.netbed;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.process.ProcStat;
import io.resilientkvm.engine.watchdog.LeaseClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * When the old and the new main's VMs stopped and started, from {@code /proc} and the keeper's
 * log, all on this host's wall clock: what the bed's takeover ITs order. The old QEMU's state is
 * polled every 5 ms (first seen stopped, {@code T}, or gone: an upper bound of the real moment);
 * the new main's QEMU is found by its pid file (same poll) and dated by its start time in
 * {@code /proc/PID/stat} (ticks since boot, CLOCK_BOOTTIME; rounded down: a lower bound). So
 * "stopped before started" holds for the real moments whenever it holds for these.
 */
final class VmEvents implements AutoCloseable {
    private static final Pattern PAUSED = Pattern.compile("^(\\S+) VmKeeper: PAUSED QEMU pid (\\d+)", Pattern.MULTILINE);
    private static final long TICK_NANOS = 1_000_000_000L / clockTicks();

    private final ProcStat oldVm;
    private final Path newPidFile;
    private final AtomicReference<Instant> oldStopped = new AtomicReference<>();
    private final AtomicReference<ProcStat> newVm = new AtomicReference<>();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final ScheduledExecutorService poll = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "vm-events");
        t.setDaemon(true);
        return t;
    });

    private VmEvents(ProcStat oldVm, Path newPidFile) {
        this.oldVm = oldVm;
        this.newPidFile = newPidFile;
    }

    /** Starts watching {@code oldQemu} (which must run, not stopped) and the pid file {@code newPidFile} of the candidate. */
    static VmEvents watch(long oldQemu, Path newPidFile) throws IOException {
        ProcStat old = ProcStat.read(oldQemu).orElseThrow(() -> new AssertionError("the old VM (pid " + oldQemu + ") is not running"));
        assertTrue(!old.stopped(), "the old VM runs (state " + old.state() + ") when the watch starts");
        assertTrue(!Files.exists(newPidFile), "the candidate has no VM yet: " + newPidFile);
        VmEvents w = new VmEvents(old, newPidFile);
        w.poll.scheduleWithFixedDelay(w::check, 0, 5, TimeUnit.MILLISECONDS);
        return w;
    }

    private void check() {
        try {
            if (oldStopped.get() == null) {
                Optional<ProcStat> now = ProcStat.read(oldVm.pid());
                if (now.isEmpty() || now.get().startTime() != oldVm.startTime() || now.get().stopped()) {
                    oldStopped.compareAndSet(null, Instant.now());
                }
            }
            if (newVm.get() == null) {
                Optional<Long> pid = pid(newPidFile);
                if (pid.isPresent()) {
                    ProcStat.read(pid.get()).ifPresent(s -> newVm.compareAndSet(null, s));
                }
            }
        } catch (IOException | RuntimeException e) {
            failure.compareAndSet(null, e);
        }
    }

    long oldPid() {
        return oldVm.pid();
    }

    /** When the old VM was first seen stopped or gone, if it was. */
    Optional<Instant> oldStopped() {
        rethrow();
        return Optional.ofNullable(oldStopped.get());
    }

    /** The new main's QEMU, once its pid file named a live process. */
    Optional<ProcStat> newVm() {
        rethrow();
        return Optional.ofNullable(newVm.get());
    }

    /** When the keeper's log says it paused the old VM, if it did. */
    Optional<Instant> oldPausedByKeeper(Path keeperLog) throws IOException {
        Matcher m = PAUSED.matcher(Files.exists(keeperLog) ? Files.readString(keeperLog) : "");
        while (m.find()) {
            if (Long.parseLong(m.group(2)) == oldVm.pid()) {
                return Optional.of(Instant.parse(m.group(1)));
            }
        }
        return Optional.empty();
    }

    /**
     * The old VM's stop: the earlier of the keeper's PAUSED line and the poll (both at or after the
     * real moment). Fails when neither saw it.
     */
    Instant oldStop(Path keeperLog) throws IOException {
        Optional<Instant> keeper = oldPausedByKeeper(keeperLog);
        Optional<Instant> seen = oldStopped();
        String log = read(keeperLog);
        return Stream.of(keeper, seen).flatMap(Optional::stream).min(Instant::compareTo)
                .orElseThrow(() -> new AssertionError("the old VM (pid " + oldVm.pid() + ") was never seen stopped; keeper log:\n" + log));
    }

    /** The wall-clock moment {@code process} started ({@code /proc} start time, converted from CLOCK_BOOTTIME). */
    static Instant startedAt(ProcStat process) {
        long boot = LeaseClock.nanos();
        Instant now = Instant.now();
        return now.minusNanos(boot - process.startTime() * TICK_NANOS);
    }

    /**
     * The margin between the old VM's stop and the new VM's start, asserted positive (the order is
     * what is checked, never its size). Returns it for the log.
     */
    Duration assertStoppedBeforeStarted(Path keeperLog, String what) throws IOException {
        Instant stopped = oldStop(keeperLog);
        ProcStat started = newVm().orElseThrow(() -> new AssertionError("the new VM was not seen starting: " + newPidFile));
        Duration margin = Duration.between(stopped, startedAt(started));
        assertTrue(margin.compareTo(Duration.ZERO) > 0, what + ": the old VM (pid " + oldVm.pid() + ") stopped at " + stopped
                + ", the new VM's QEMU (pid " + started.pid() + ") started at " + startedAt(started) + ": margin " + margin.toMillis()
                + " ms\nkeeper log:\n" + read(keeperLog));
        return margin;
    }

    /** The QEMU processes whose command line names {@code dir} and that are not stopped by a signal. */
    static List<Long> runningVms(Path dir) {
        String d = dir.toString();
        return ProcessHandle.allProcesses()
                .filter(p -> p.info().command().map(c -> c.contains("qemu-system")).orElse(false))
                .filter(p -> p.info().arguments().map(a -> String.join(" ", a).contains(d)).orElse(false))
                .filter(p -> {
                    try {
                        return ProcStat.read(p.pid()).map(s -> !s.stopped()).orElse(false);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                })
                .map(ProcessHandle::pid).toList();
    }

    /** The live pid a pid file names, if any. */
    static Optional<Long> pid(Path pidFile) throws IOException {
        String text;
        try {
            text = Files.readString(pidFile).strip();
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        if (text.isEmpty()) {
            return Optional.empty(); // being written
        }
        return ProcessHandle.of(Long.parseLong(text)).filter(ProcessHandle::isAlive).map(ProcessHandle::pid);
    }

    /** Sends {@code signal} (STOP, CONT) to {@code pid} with kill(1). */
    static void signal(String signal, long pid) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).inheritIO().start();
        assertTrue(kill.waitFor(30, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -" + signal + " " + pid);
    }

    static String read(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file) : "(no " + file + ")";
    }

    private void rethrow() {
        Throwable t = failure.get();
        if (t != null) {
            throw new AssertionError("watching the VMs failed", t);
        }
    }

    private static long clockTicks() {
        try {
            Process p = new ProcessBuilder("getconf", "CLK_TCK").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException("getconf CLK_TCK failed: " + out);
            }
            return Long.parseLong(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running getconf CLK_TCK", e);
        }
    }

    @Override
    public void close() {
        poll.shutdownNow();
    }
}

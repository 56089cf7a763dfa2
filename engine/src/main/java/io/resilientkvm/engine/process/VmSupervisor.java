package io.resilientkvm.engine.process;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one QEMU running: restarts it when it exits on its own (a crash, or a guest that shut
 * itself down), following a {@link RestartPolicy}; stops it for good on {@link #close()}.
 * States: LATENT → RUNNING ⇄ RESTARTING → CLOSED or GAVE_UP, every change a compare-and-set
 * (the rule of {@code engine.lifecycle.LifecycleState}, with richer states): it starts once, its
 * close runs once, and an end state is never overwritten. {@link #close()} takes no lock and never
 * waits for a start in progress: a QEMU that comes up after the close is stopped by the thread
 * that launched it.
 */
public final class VmSupervisor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(VmSupervisor.class);

    /** Starts one QEMU; called for the first start and each restart. */
    @FunctionalInterface
    public interface Launcher {
        QemuProcess launch() throws QemuStartException;
    }

    public enum State { LATENT, RUNNING, RESTARTING, CLOSED, GAVE_UP }

    /** Why supervision ended: closed by its owner, or gave up after a crash loop. */
    public record Termination(State state, String reason) {}

    private final String name;
    private final Launcher launcher;
    private final RestartPolicy restartPolicy;
    private final StopPolicy stopPolicy;
    private final Clock clock;
    private final ScheduledExecutorService scheduler;
    private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
    private final Deque<Instant> recentRestarts = new ArrayDeque<>();
    private final CompletableFuture<Termination> termination = new CompletableFuture<>();
    /** The live QEMU stopped because of close, so that close and a launcher never both stop it. */
    private final AtomicReference<QemuProcess> stoppedOnClose = new AtomicReference<>();
    private volatile QemuProcess current;

    public VmSupervisor(String name, Launcher launcher, RestartPolicy restartPolicy, StopPolicy stopPolicy) {
        this(name, launcher, restartPolicy, stopPolicy, Clock.systemUTC());
    }

    VmSupervisor(String name, Launcher launcher, RestartPolicy restartPolicy, StopPolicy stopPolicy, Clock clock) {
        this.name = Objects.requireNonNull(name, "name");
        this.launcher = Objects.requireNonNull(launcher, "launcher");
        this.restartPolicy = Objects.requireNonNull(restartPolicy, "restartPolicy");
        this.stopPolicy = Objects.requireNonNull(stopPolicy, "stopPolicy");
        this.clock = clock;
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "vm-supervisor-" + name);
            t.setDaemon(true);
            return t;
        });
    }

    /** First start: a failure here is the caller's (bad parameters, missing QEMU), not retried. */
    public QemuProcess start() throws QemuStartException {
        if (!state.compareAndSet(State.LATENT, State.RUNNING)) {
            throw new IllegalStateException("VM " + name + " supervisor already started (" + state.get() + ")");
        }
        QemuProcess p;
        try {
            p = launcher.launch();
        } catch (QemuStartException | RuntimeException e) {
            finish(State.GAVE_UP, e.getMessage());
            throw e;
        }
        watch(p);
        if (closedWhileLaunching(p)) {
            throw new QemuStartException("VM " + name + " was closed while its QEMU started; QEMU pid " + p.pid() + " stopped");
        }
        return p;
    }

    /** After a launch: if close came meanwhile, it may not have seen this process, so stop it here. */
    private boolean closedWhileLaunching(QemuProcess p) {
        if (state.get() != State.CLOSED) {
            return false;
        }
        stopForClose(p);
        return true;
    }

    private void stopForClose(QemuProcess p) {
        if (p.isAlive() && stoppedOnClose.compareAndSet(null, p)) {
            p.stop(stopPolicy);
        } else if (!p.isAlive()) {
            p.close();
        }
    }

    public State state() {
        return state.get();
    }

    /** The QEMU currently running, if any. */
    public Optional<QemuProcess> current() {
        QemuProcess p = current;
        return p != null && p.isAlive() ? Optional.of(p) : Optional.empty();
    }

    /** Completes when supervision ends; never completes exceptionally. */
    public CompletableFuture<Termination> termination() {
        return termination;
    }

    private void watch(QemuProcess p) {
        current = p;
        p.onExit().whenComplete((code, error) -> scheduler.execute(() -> exited(p, code)));
    }

    private void exited(QemuProcess p, Integer code) {
        if (state.get() != State.RUNNING || p != current) {
            return; // stopped on purpose
        }
        LOG.error("VM {}: QEMU pid {} exited on its own with code {}: {}", name, p.pid(), code, p.outputTail());
        Instant now = clock.instant();
        while (!recentRestarts.isEmpty() && recentRestarts.peekFirst().isBefore(now.minus(restartPolicy.window()))) {
            recentRestarts.removeFirst();
        }
        if (recentRestarts.size() >= restartPolicy.maxRestarts()) {
            String reason = "QEMU of VM " + name + " exited " + (recentRestarts.size() + 1) + " times within "
                    + restartPolicy.window().toMinutes() + " min; not restarting it. Read " + p.launch().logFile()
                    + ", fix the cause, then start the VM again.";
            LOG.error(reason);
            finish(State.GAVE_UP, reason);
            return;
        }
        recentRestarts.addLast(now);
        Duration wait = restartPolicy.backoff(recentRestarts.size());
        if (!state.compareAndSet(State.RUNNING, State.RESTARTING)) {
            return; // closed meanwhile
        }
        LOG.warn("VM {}: restarting QEMU in {} ms (restart {} of at most {} within {} min)", name, wait.toMillis(),
                recentRestarts.size(), restartPolicy.maxRestarts(), restartPolicy.window().toMinutes());
        scheduler.schedule(this::restart, wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void restart() {
        if (!state.compareAndSet(State.RESTARTING, State.RUNNING)) {
            return; // closed meanwhile
        }
        try {
            QemuProcess p = launcher.launch();
            LOG.info("VM {}: QEMU restarted, pid {}", name, p.pid());
            watch(p);
            closedWhileLaunching(p);
        } catch (QemuStartException | RuntimeException e) {
            LOG.error("VM {}: restart failed: {}", name, e.getMessage());
            finish(State.GAVE_UP, "restart of VM " + name + " failed: " + e.getMessage());
        }
    }

    /** Gives up from RUNNING or RESTARTING; does nothing once closed. */
    private void finish(State end, String reason) {
        State before = state.get();
        while (before == State.RUNNING || before == State.RESTARTING) {
            if (state.compareAndSet(before, end)) {
                termination.complete(new Termination(end, reason));
                scheduler.shutdown();
                return;
            }
            before = state.get();
        }
    }

    /** Stops the VM with the stop policy and ends supervision; idempotent, and a no-op after GAVE_UP. */
    @Override
    public void close() {
        State before = state.get();
        while (true) {
            if (before == State.CLOSED || before == State.GAVE_UP) {
                return;
            }
            if (state.compareAndSet(before, State.CLOSED)) {
                break;
            }
            before = state.get();
        }
        QemuProcess p = current;
        if (p != null) {
            stopForClose(p);
        }
        termination.complete(new Termination(State.CLOSED, "stopped by its owner"));
        scheduler.shutdownNow();
    }
}

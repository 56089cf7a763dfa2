package io.resilientkvm.engine.process;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Supervision of a real QEMU: restart after a crash, give up on a crash loop, clean stop. */
class VmSupervisorTest {
    private static final RestartPolicy FAST = new RestartPolicy(2, Duration.ofMinutes(5), Duration.ofMillis(50), Duration.ofMillis(200));

    @TempDir
    Path dir;

    private QemuProcess launch() throws QemuStartException {
        Path socket = dir.resolve("qmp.sock");
        return QemuProcess.start(new QemuLaunch(List.of("qemu-system-x86_64", "-nodefaults", "-display", "none", "-S",
                "-accel", Files.isWritable(Path.of("/dev/kvm")) ? "kvm" : "tcg", "-m", "64",
                "-qmp", "unix:" + socket + ",server=on,wait=off"), socket, dir.resolve("qemu.log")));
    }

    @Test
    void restartsQemuThatDiedThenStopsItOnClose() throws Exception {
        VmSupervisor supervisor = new VmSupervisor("t", this::launch, FAST, StopPolicy.QUIT);
        try {
            QemuProcess first = supervisor.start();
            first.kill(Duration.ofSeconds(10));
            await().atMost(Duration.ofSeconds(30)).until(() -> supervisor.current().filter(p -> p.pid() != first.pid()).isPresent());
            QemuProcess second = supervisor.current().orElseThrow();
            assertNotEquals(first.pid(), second.pid());
            assertEquals("prelaunch", second.qmp().execute("query-status").path("status").asText());
            supervisor.close();
            assertFalse(second.isAlive());
            assertEquals(VmSupervisor.State.CLOSED, supervisor.termination().get(10, TimeUnit.SECONDS).state());
        } finally {
            supervisor.close(); // idempotent: the test closes it on purpose above
        }
    }

    @Test
    void givesUpOnACrashLoopAndSaysWhere() throws Exception {
        try (VmSupervisor supervisor = new VmSupervisor("loop", this::launch, FAST, StopPolicy.QUIT)) {
            QemuProcess previous = supervisor.start();
            previous.kill(Duration.ofSeconds(10));
            // The policy allows two restarts: kill both restarted QEMUs, the third exit ends it.
            for (int restart = 1; restart <= 2; restart++) {
                long oldPid = previous.pid();
                await().atMost(Duration.ofSeconds(30)).until(() -> supervisor.current().filter(p -> p.pid() != oldPid).isPresent());
                previous = supervisor.current().orElseThrow();
                previous.kill(Duration.ofSeconds(10));
            }
            VmSupervisor.Termination end = supervisor.termination().get(30, TimeUnit.SECONDS);
            assertEquals(VmSupervisor.State.GAVE_UP, end.state());
            assertTrue(end.reason().contains("qemu.log"), end.reason());
        }
    }

    @Test
    void aCloseDuringAStartDoesNotWaitForItAndTheQemuThatComesUpIsStopped() throws Exception {
        CountDownLatch launching = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        AtomicReference<QemuProcess> launched = new AtomicReference<>();
        VmSupervisor supervisor = new VmSupervisor("slow", () -> {
            launching.countDown();
            try {
                assertTrue(closed.await(30, TimeUnit.SECONDS), "never closed");
            } catch (InterruptedException e) {
                throw new QemuStartException("interrupted", e);
            }
            launched.set(launch());
            return launched.get();
        }, FAST, StopPolicy.QUIT);
        CompletableFuture<Throwable> start = CompletableFuture.supplyAsync(() -> {
            try {
                supervisor.start();
                return null;
            } catch (Exception e) {
                return e;
            }
        });
        assertTrue(launching.await(30, TimeUnit.SECONDS));
        supervisor.close(); // the fence path: returns although the start is still in progress
        assertEquals(VmSupervisor.State.CLOSED, supervisor.state());
        assertEquals(VmSupervisor.State.CLOSED, supervisor.termination().get(10, TimeUnit.SECONDS).state());
        closed.countDown();
        Throwable failed = start.get(60, TimeUnit.SECONDS);
        assertTrue(failed instanceof QemuStartException && failed.getMessage().contains("closed while its QEMU started"),
                String.valueOf(failed));
        assertFalse(launched.get().isAlive(), "the QEMU launched after the close was stopped");
        assertEquals(VmSupervisor.State.CLOSED, supervisor.state());
        assertThrows(IllegalStateException.class, supervisor::start, "starts once");
    }

    @Test
    void aSupervisorThatGaveUpStaysGivenUpAfterClose() throws Exception {
        VmSupervisor supervisor = new VmSupervisor("bad", () -> {
            throw new QemuStartException("no such QEMU");
        }, FAST, StopPolicy.QUIT);
        assertThrows(QemuStartException.class, supervisor::start);
        supervisor.close();
        supervisor.close();
        assertEquals(VmSupervisor.State.GAVE_UP, supervisor.state());
        assertEquals(new VmSupervisor.Termination(VmSupervisor.State.GAVE_UP, "no such QEMU"),
                supervisor.termination().get(10, TimeUnit.SECONDS));
    }

    @Test
    void aQemuThatCannotStartFailsWithItsOwnMessage() {
        QemuStartException e = assertThrows(QemuStartException.class, () -> QemuProcess.start(new QemuLaunch(
                List.of("qemu-system-x86_64", "-nodefaults", "-display", "none", "-no-such-option",
                        "-qmp", "unix:" + dir.resolve("q.sock") + ",server=on,wait=off"),
                dir.resolve("q.sock"), dir.resolve("bad.log"))));
        assertTrue(e.getMessage().contains("-no-such-option"), e.getMessage());
        assertTrue(e.getMessage().contains("exited during start"), e.getMessage());
    }

    @Test
    void restartPolicyBacksOffExponentiallyUpToItsBound() {
        RestartPolicy p = new RestartPolicy(5, Duration.ofMinutes(1), Duration.ofMillis(100), Duration.ofMillis(350));
        assertEquals(100, p.backoff(1).toMillis());
        assertEquals(200, p.backoff(2).toMillis());
        assertEquals(350, p.backoff(3).toMillis());
        assertThrows(IllegalArgumentException.class, () -> new RestartPolicy(-1, Duration.ofMinutes(1), Duration.ZERO, Duration.ZERO));
    }
}

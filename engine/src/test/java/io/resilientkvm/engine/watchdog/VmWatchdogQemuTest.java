package io.resilientkvm.engine.watchdog;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.process.ProcStat;
import io.resilientkvm.engine.process.QemuStartException;
import io.resilientkvm.engine.process.StopPolicy;
import io.resilientkvm.engine.testing.TestTiming;
import io.resilientkvm.engine.testing.TestVm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The VM keeper, a JVM of its own, against a real running QEMU. */
class VmWatchdogQemuTest {
    private static final Duration LEASE = Duration.ofMillis(1000);
    /** The keeper's JVM start plus the lease plus slack for a loaded machine. */
    private static final Duration BOUND = TestTiming.scaled(LEASE.plus(Duration.ofSeconds(10)));

    @TempDir
    Path dir;

    @Test
    void aLeaseNotRenewedPausesQemuAndAFreshProofResumesIt() throws Exception {
        try (TestVm vm = TestVm.builder(dir).running(true).start()) {
            long pid = vm.process().pid();
            VmWatchdog w = VmWatchdog.start(pid, LEASE, LeaseClock.nanos(), dir.resolve("keeper.log"));
            try {
                await("QEMU paused by its keeper").atMost(BOUND).pollInterval(Duration.ofMillis(20))
                        .until(() -> state(pid).stopped());
                // The keeper logs right after the signal: the log may trail the state by a moment.
                await("the pause logged").atMost(BOUND).until(() -> Files.readString(dir.resolve("keeper.log"))
                        .contains("PAUSED QEMU pid " + pid));
                assertTrue(vm.process().isAlive(), "paused, not killed");

                w.renew(LeaseClock.nanos());
                await("QEMU resumed by a fresh proof").atMost(BOUND).until(() -> !state(pid).stopped());
                await("the resume logged").atMost(BOUND).until(() -> Files.readString(dir.resolve("keeper.log"))
                        .contains("RESUMED QEMU pid " + pid));
            } finally {
                w.release();
            }
            assertFalse(w.isAlive(), "a released keeper exits");
            assertFalse(state(pid).stopped(), "a released keeper leaves QEMU as it is");
        }
    }

    @Test
    void aRenewedLeaseKeepsQemuRunning() throws Exception {
        try (TestVm vm = TestVm.builder(dir).running(true).start()) {
            long pid = vm.process().pid();
            // A lease longer than the keeper's JVM start on a loaded machine, so that the first proof is still fresh.
            Duration lease = TestTiming.scaled(Duration.ofSeconds(4));
            VmWatchdog w = VmWatchdog.start(pid, lease, LeaseClock.nanos(), dir.resolve("keeper.log"));
            try {
                // Renewed at every poll, well within the lease, for three leases: never paused.
                await().pollInterval(Duration.ofMillis(100)).during(lease.multipliedBy(3)).atMost(BOUND.plus(lease.multipliedBy(3)))
                        .until(() -> w.renew(LeaseClock.nanos()) && !state(pid).stopped());
                assertFalse(Files.readString(dir.resolve("keeper.log")).contains("PAUSED"));
            } finally {
                w.release();
            }
        }
    }

    @Test
    void aStaleRenewalDoesNotResumeAPausedQemu() throws Exception {
        try (TestVm vm = TestVm.builder(dir).running(true).start()) {
            long pid = vm.process().pid();
            VmWatchdog w = VmWatchdog.start(pid, LEASE, LeaseClock.nanos(), dir.resolve("keeper.log"));
            try {
                await("paused").atMost(BOUND).pollInterval(Duration.ofMillis(20)).until(() -> state(pid).stopped());
                // A renewal written late by a thread frozen between its proof and its write: already expired.
                await("a stale renewal leaves it paused").pollInterval(Duration.ofMillis(50)).during(LEASE).atMost(BOUND)
                        .until(() -> w.renew(LeaseClock.nanos() - LEASE.toNanos() - 1_000_000) && state(pid).stopped());
                assertFalse(Files.readString(dir.resolve("keeper.log")).contains("RESUMED"));
            } finally {
                w.release();
            }
        }
    }

    @Test
    void theAgentsPipeClosedKillsQemu() throws Exception {
        try (TestVm vm = TestVm.builder(dir).running(true).start()) {
            long pid = vm.process().pid();
            VmWatchdog w = VmWatchdog.start(pid, LEASE, LeaseClock.nanos(), dir.resolve("keeper.log"));
            w.renew(LeaseClock.nanos());
            w.closePipe();
            await("QEMU killed by its keeper").atMost(BOUND).until(() -> !vm.process().isAlive());
            assertEquals(137, vm.process().onExit().get(10, TimeUnit.SECONDS), "SIGKILL");
            assertTrue(w.onExit().get(10, TimeUnit.SECONDS).exitValue() == 0);
            await("the pipe's end logged").atMost(BOUND).until(() -> Files.readString(dir.resolve("keeper.log"))
                    .contains("pipe closed"));
        }
    }

    @Test
    void toldToKillTheKeeperKillsQemuAndExits() throws Exception {
        try (TestVm vm = TestVm.builder(dir).running(true).start()) {
            VmWatchdog w = VmWatchdog.start(vm.process().pid(), Duration.ofMinutes(1), LeaseClock.nanos(), dir.resolve("keeper.log"));
            w.kill();
            assertEquals(137, vm.process().onExit().get(30, TimeUnit.SECONDS), "SIGKILL");
            assertFalse(w.isAlive());
            assertTrue(Files.readString(dir.resolve("keeper.log")).contains("QEMU pid " + vm.process().pid() + " killed"));
        }
    }

    @Test
    void aQemuPausedByItsKeeperIsKilledNotResumedWhenStopped() throws Exception {
        try (TestVm vm = TestVm.builder(dir).running(true).start()) {
            long pid = vm.process().pid();
            VmWatchdog w = VmWatchdog.start(pid, LEASE, LeaseClock.nanos(), dir.resolve("keeper.log"));
            vm.process().guardWith(w);
            await("paused").atMost(BOUND).pollInterval(Duration.ofMillis(20)).until(() -> state(pid).stopped());
            assertEquals(137, vm.process().stop(StopPolicy.QUIT), "killed (SIGKILL), not resumed to quit");
            assertFalse(w.isAlive(), "the stop released the keeper");
        }
    }

    @Test
    void aKeeperThatDiesTakesItsQemuWithIt() throws Exception {
        try (TestVm vm = TestVm.builder(dir).running(true).start()) {
            WatchdogLease lease = new WatchdogLease(Duration.ofSeconds(30), dir.resolve("keeper.log"));
            lease.renew(LeaseClock.nanos());
            lease.guard(vm.process());
            VmWatchdog keeper = lease.current().orElseThrow();
            assertEquals(vm.process().pid(), keeper.qemuPid());
            ProcessHandle.of(keeper.keeperPid()).orElseThrow().destroyForcibly();
            await("QEMU killed when its keeper died").atMost(BOUND).until(() -> !vm.process().isAlive());
        }
    }

    @Test
    void noKeeperStartsWithoutAProofAndQemuIsKilled() throws Exception {
        try (TestVm vm = TestVm.builder(dir).running(true).start()) {
            WatchdogLease lease = new WatchdogLease(LEASE, dir.resolve("keeper.log"));
            QemuStartException e = assertThrows(QemuStartException.class, () -> lease.guard(vm.process()));
            assertTrue(e.getMessage().contains("no proof of ownership"), e.getMessage());
            assertFalse(vm.process().isAlive());
        }
    }

    @Test
    void aRecycledPidIsNeverSignalled() throws Exception {
        try (TestVm vm = TestVm.builder(dir).running(true).start()) {
            long pid = vm.process().pid();
            long start = state(pid).startTime();
            IOException e = assertThrows(IOException.class, () -> Signals.open(pid, start + 1));
            assertTrue(e.getMessage().contains("recycled"), e.getMessage());
            assertFalse(state(pid).stopped());
        }
    }

    private static ProcStat state(long pid) throws IOException {
        return ProcStat.read(pid).orElseThrow(() -> new AssertionError("QEMU pid " + pid + " is gone"));
    }
}

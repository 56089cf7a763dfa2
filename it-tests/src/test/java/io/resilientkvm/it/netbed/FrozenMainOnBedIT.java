package io.resilientkvm.it.netbed;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.resilientkvm.drill.netns.NetBed;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.process.ProcStat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 14's frozen main on the three-host bed ({@link BedInstance}: TLS, fail-safe mode, its
 * session, suspend bound and lease): the main's agent JVM (its own pid,
 * not QEMU's nor its keeper's) is frozen with SIGSTOP while its QEMU runs, past its session; then
 * {@code bin/takeover} on node-b's host. The old VM must be paused by its keeper before the new
 * VM's QEMU starts (the margin is logged), node-c must import the new main's backup, and the old
 * agent, thawed, must fence itself: its paused VM killed, never resumed, exit 3, fenced.json.
 * Root only.
 */
class FrozenMainOnBedIT {
    private static final Logger LOG = LoggerFactory.getLogger(FrozenMainOnBedIT.class);

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void aFrozenMainsVmIsPausedBeforeTheNewVmStartsNodeCFollowsAndTheThawedMainStaysFenced() throws Exception {
        assumeTrue(NetBed.isRoot(), NetBed.NEEDS_ROOT);
        try (BedInstance instance = BedInstance.create(dir, "FrozenMainOnBedIT")) {
            BedTakeover.Running running = BedTakeover.start(instance);
            Process oldAgent = running.mainAgent();
            ShellClient observer = running.observer();
            InstanceLayout a = instance.layout("node-a");
            long oldQemu = running.mainQemu();
            // The agent's own JVM: `ip netns exec` replaced itself by java, so the Process's pid is the agent's.
            String command = oldAgent.info().command().orElse("?");
            assertTrue(command.endsWith("/java"), "node-a's agent process is its JVM: " + command);
            assertTrue(oldQemu != oldAgent.pid(), "QEMU is a process of its own");
            try (VmEvents events = VmEvents.watch(oldQemu, instance.layout("node-b").pidFile())) {
                // Closing the bed SIGKILLs the agent, frozen or not, if the test ends before the thaw.
                VmEvents.signal("STOP", oldAgent.pid());
                await("node-a's agent stopped (state T)").atMost(BedInstance.WAIT).pollInterval(Duration.ofMillis(10))
                        .until(() -> ProcStat.read(oldAgent.pid()).map(ProcStat::stopped).orElse(false));
                LOG.info("froze node-a's agent (pid {}); its QEMU (pid {}) runs on", oldAgent.pid(), oldQemu);
                await("node-a's session expires while its agent is frozen").atMost(BedInstance.WAIT).pollInterval(Duration.ofMillis(100))
                        .until(() -> BedTakeover.member(instance, observer, "node-a") == null);
                LOG.info("node-a's member znode is gone; old VM state {}", ProcStat.read(oldQemu).map(ProcStat::state).orElse('-'));

                String out = BedTakeover.run(instance, "node-b");
                LOG.info("bin/takeover on node-b:\n{}", BedTakeover.printed(out));
                BedTakeover.assertAwaitedTheOldVm(out);
                long epoch = BedTakeover.assertEpochMovedTo(observer, running.epoch(), "node-b");
                await("node-b announces MAIN").atMost(BedInstance.WAIT).pollInterval(Duration.ofMillis(200))
                        .until(() -> BedTakeover.member(instance, observer, "node-b"), m -> m != null && m.path("role").asText().equals("main"));

                Duration margin = events.assertStoppedBeforeStarted(a.vmKeeperLog(), "frozen main");
                long newQemu = events.newVm().orElseThrow().pid();
                LOG.info("Frozen main on the bed: old VM (pid {}) paused by its keeper at {} (first seen stopped at {}), new VM's QEMU"
                        + " (pid {}) started at {}: margin {} ms", oldQemu, events.oldPausedByKeeper(a.vmKeeperLog()).orElse(null),
                        events.oldStopped().orElse(null), newQemu, VmEvents.startedAt(events.newVm().orElseThrow()), margin.toMillis());
                assertTrue(events.oldPausedByKeeper(a.vmKeeperLog()).isPresent(),
                        "its keeper paused the frozen main's VM: " + VmEvents.read(a.vmKeeperLog()));
                assertTrue(ProcStat.read(oldQemu).orElseThrow().stopped(), "the old VM stays paused while its agent is frozen");
                assertEquals(List.of(newQemu), VmEvents.runningVms(dir), "one running VM, the new main's");

                String[] backup = BedTakeover.cloneHoldsABackupOfEpoch(instance, observer, "node-c", epoch);
                LOG.info("node-c holds {} of the new main (epoch {})", backup[0], epoch);

                VmEvents.signal("CONT", oldAgent.pid());
                assertTrue(oldAgent.waitFor(2, TimeUnit.MINUTES), "the thawed main fences itself and exits:\n" + instance.read("node-a"));
                String oldLog = instance.read("node-a");
                assertEquals(3, oldAgent.exitValue(), "fenced: exit 3\n" + oldLog);
                assertTrue(ProcessHandle.of(oldQemu).map(p -> !p.isAlive()).orElse(true), "the old VM is stopped");
                assertTrue(Files.exists(a.etc().resolve("fenced.json")), "the fence marker stays: " + a.etc().resolve("fenced.json"));
                assertTrue(oldLog.contains("paused by its watchdog: killing it"), "killed as paused, never resumed:\n" + oldLog);
                assertTrue(Files.readString(a.vmKeeperLog()).lines().noneMatch(l -> l.contains("RESUMED")),
                        "the old VM never ran again: " + Files.readString(a.vmKeeperLog()));
                JsonNode oldMember = BedTakeover.member(instance, observer, "node-a");
                assertTrue(oldMember == null || !oldMember.path("role").asText().equals("main"),
                        "the thawed node-a does not announce MAIN: " + oldMember);
                assertEquals("node-b", BedTakeover.epoch(observer)[1], "node-b still owns the epoch");
                assertEquals(List.of(newQemu), VmEvents.runningVms(dir), "one running VM, the new main's");
            }
        }
    }
}

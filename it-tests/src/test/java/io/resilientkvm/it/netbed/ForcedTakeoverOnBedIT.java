package io.resilientkvm.it.netbed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.resilientkvm.drill.netns.NetBed;
import io.resilientkvm.drill.netns.NetBed.Traffic;
import io.resilientkvm.drill.netns.ZkEnsemble;
import io.resilientkvm.engine.instance.InstanceLayout;
import java.nio.file.Files;
import java.time.Duration;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Issue 14's forced takeover while the old main still runs and reaches one clone, on the
 * three-host bed ({@link BedInstance}: fail-safe mode, its session, suspend bound and
 * lease): node-a's host is cut from ZooKeeper (TCP port 2281, its own server's included)
 * and from node-b's host, node-c's host still reachable ({@link NetBed#block}); at once the
 * operator confirms {@code bin/takeover --force} on node-b's host (planned, past the live main,
 * just before), so the epoch moves while the old main still runs its VM. The old VM must stop (fenced or paused) before
 * the new VM's QEMU starts (the margin is logged), exactly one VM must run at the end, and node-c
 * must follow the new main. Root only.
 */
class ForcedTakeoverOnBedIT {
    private static final Logger LOG = LoggerFactory.getLogger(ForcedTakeoverOnBedIT.class);

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void aForcedTakeoverOfAMainThatStillReachesOneCloneStartsTheNewVmAfterTheOldOneStopped() throws Exception {
        assumeTrue(NetBed.isRoot(), NetBed.NEEDS_ROOT);
        try (BedInstance instance = BedInstance.create(dir, "ForcedTakeoverOnBedIT")) {
            BedTakeover.Running running = BedTakeover.start(instance);
            Process oldAgent = running.mainAgent();
            ShellClient observer = running.observer();
            InstanceLayout a = instance.layout("node-a");
            long oldQemu = running.mainQemu();
            NetBed.Host h1 = instance.host("node-a");
            // The operator's bin/takeover --force, planned while node-a runs and announces MAIN, waits at its prompt: the
            // "yes" right after the block moves the epoch at once, while the old main still runs its VM (a JVM started
            // after the block would read and move the epoch only after its start, by then the old main may have fenced).
            BedTakeover.AtPrompt takeover = BedTakeover.atPrompt(instance, "node-b", "--force");
            assertTrue(takeover.plan().contains("MAIN_ALIVE"), "planned past the live main:\n" + takeover.plan());
            try (VmEvents events = VmEvents.watch(oldQemu, instance.layout("node-b").pidFile());
                    NetBed.Block block = instance.bed.block(h1, Traffic.tcpPort(ZkEnsemble.CLIENT_PORT),
                            Traffic.to(instance.host("node-b")))) {
                Instant blocked = Instant.now();
                // The agents' log lines start with the local time of day (HH:mm:ss.SSS): the lines from the block on.
                String blockedLog = java.time.LocalTime.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS).toString();
                takeover.confirm();
                String out = takeover.awaitSuccess();
                String printed = BedTakeover.printed(out);
                LOG.info("bin/takeover --force on node-b, confirmed at once after the block:\n{}", printed);
                BedTakeover.assertAwaitedTheOldVm(out);
                long epoch = BedTakeover.assertEpochMovedTo(observer, running.epoch(), "node-b");

                Duration margin = events.assertStoppedBeforeStarted(a.vmKeeperLog(), "forced takeover");
                long newQemu = events.newVm().orElseThrow().pid();
                Instant stopped = events.oldStop(a.vmKeeperLog());
                LOG.info("Forced takeover on the bed (node-a cut from ZooKeeper and node-b, reaching node-c; confirmed at {}): old VM"
                        + " (pid {}) stopped at {} ({} ms after the block; paused by its keeper: {}), new VM's QEMU (pid {}) started"
                        + " at {}: margin {} ms", blocked, oldQemu, stopped,
                        Duration.between(blocked, stopped).toMillis(), events.oldPausedByKeeper(a.vmKeeperLog()).orElse(null), newQemu,
                        VmEvents.startedAt(events.newVm().orElseThrow()), margin.toMillis());

                // The old main fenced itself: no complete round of acknowledgements (node-b is out of its reach).
                assertTrue(oldAgent.waitFor(2, TimeUnit.MINUTES), "the cut main fences itself and exits:\n" + instance.read("node-a"));
                String oldLog = instance.read("node-a");
                LOG.info("node-a after the block (its fencing):\n{}", oldLog.lines().filter(l -> l.compareTo(blockedLog) >= 0)
                        .filter(l -> l.contains("WARN") || l.contains("ERROR") || l.toLowerCase(java.util.Locale.ROOT).contains("fenc"))
                        .limit(40).collect(java.util.stream.Collectors.joining("\n")));
                assertEquals(3, oldAgent.exitValue(), "fenced: exit 3\n" + oldLog);
                assertTrue(ProcessHandle.of(oldQemu).map(p -> !p.isAlive()).orElse(true), "the old VM is stopped");
                assertTrue(Files.exists(a.etc().resolve("fenced.json")), "the fence marker: " + a.etc().resolve("fenced.json"));
                assertTrue(Files.readString(a.vmKeeperLog()).lines().noneMatch(l -> l.contains("RESUMED")),
                        "the old VM never ran again after a pause: " + Files.readString(a.vmKeeperLog()));
                assertEquals(List.of(newQemu), VmEvents.runningVms(dir), "exactly one running VM, the new main's");

                String[] backup = BedTakeover.cloneHoldsABackupOfEpoch(instance, observer, "node-c", epoch);
                LOG.info("node-c follows the new main: holds {} (epoch {})", backup[0], epoch);
                assertEquals(List.of(newQemu), VmEvents.runningVms(dir), "exactly one running VM, the new main's");
            }
        }
    }
}

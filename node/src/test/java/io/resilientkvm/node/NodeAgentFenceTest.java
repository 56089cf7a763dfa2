package io.resilientkvm.node;

import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.Outcome;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.importer.restore.RestoreResult;
import io.resilientkvm.importer.testing.TestRepository;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fence path never waits for a slow start: a clone promoted by a takeover is still restoring
 * its disks when a newer epoch (a second takeover, written to a real ZooKeeper) replaces it. It is
 * fenced within the suspend bound while the restore still blocks, and once the restore returns
 * its start goes no further: its VM never runs.
 */
class NodeAgentFenceTest {
    private static final ZkLayout ZK = new ZkLayout("/rkvm-test", "fence");
    private static final Duration SUSPEND_BOUND = Duration.ofSeconds(2);

    @TempDir
    Path dir;

    @Test
    void aMainStillRestoringItsDisksIsFencedWithinTheBoundAndItsVmNeverRuns() throws Exception {
        Path dataDir = dir.resolve("node-b");
        InstanceLayout instance = new InstanceLayout(dataDir);
        // A verified backup of the main disk in the clone's repository: the restore has something real to do.
        new TestRepository(instance.backupRepository(), dir.resolve("work"), "virtio0", 16 << 20)
                .full(Instant.parse("2026-01-01T00:00:00Z"), "write -P 0x61 0 1M");
        CountDownLatch restoring = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<List<RestoreResult>> restored = new AtomicReference<>();
        MainRole.DiskRestore slowRestore = ctx -> {
            restoring.countDown();
            // Stands for a restore step that cannot be interrupted (a read blocked in the kernel):
            // the fence's interrupt is swallowed, so the start must notice the fence by itself.
            boolean released = false;
            while (!released) {
                try {
                    released = release.await(5, TimeUnit.MINUTES);
                } catch (InterruptedException ignored) {
                    // keeps waiting, as such a step would
                }
            }
            List<RestoreResult> r = Promotion.restoreDisks(ctx);
            restored.set(r);
            return r;
        };
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                CuratorFramework observer = ZkClients.connect(ZkSettings.of(zk.getConnectString()))) {
            EpochStore epochs = new EpochStore(observer, ZK);
            Epoch first = epochs.initialize("node-a");
            NodeAgent agent = NodeAgent.start(TestNodeConfig.write(dir, "node-b", "fence", zk.getConnectString(),
                    SUSPEND_BOUND, "", ""), slowRestore);
            try {
                assertEquals(Role.CLONE, agent.role());
                Epoch promoted = epochs.advance(first, "node-b"); // a takeover names node-b
                assertTrue(restoring.await(1, TimeUnit.MINUTES), "node-b starts its main role and restores its disks");

                epochs.advance(promoted, "node-c"); // a second takeover while node-b still restores
                await("node-b is fenced within the suspend bound, its restore still blocked").atMost(SUSPEND_BOUND)
                        .pollInterval(Duration.ofMillis(20))
                        .until(() -> agent.role() == Role.FENCED && role(observer, "node-b").equals(Optional.of(Role.FENCED)));
                assertEquals(1, release.getCount(), "the restore is still blocked");
                assertTrue(Files.exists(instance.etc().resolve("fenced.json")), "the fence marker is written");

                release.countDown();
                // The restore itself goes on to its end (the agent's close below would interrupt it).
                await("the restore returns").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(20))
                        .until(() -> restored.get() != null);
                Outcome end = agent.ended().get(1, TimeUnit.MINUTES);
                assertEquals(ExitStatus.REFUSED, end.status(), end.message());
                assertTrue(end.message().startsWith("fenced: ") && end.message().contains("newer epoch"), end.message());
            } finally {
                release.countDown();
                agent.close(); // waits for the start to end, so what it did is all there is to see
            }
            assertTrue(restored.get() != null && !restored.get().isEmpty(), "the restore did return");
            assertFalse(Files.exists(instance.qemuLog()), "no QEMU was ever launched for node-b");
            assertEquals(List.of(), Leftovers.processesMentioning(dataDir));
            assertEquals(Optional.empty(), role(observer, "node-b"), "the closed agent left the members");
            await("no thread of the agent is left").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(50))
                    .until(() -> Leftovers.threads("node-agent-node-b", "node-fence-node-b", "importer-node-b",
                            "fencing-node-b", "epoch-check-node-b").isEmpty());
        }
    }

    private static Optional<Role> role(CuratorFramework client, String node) throws Exception {
        return Optional.ofNullable(Membership.list(client, ZK).get(node)).map(MemberInfo::role);
    }
}

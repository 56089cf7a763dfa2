package io.resilientkvm.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.takeover.fencing.FenceMarker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main role's own stack: its last component, the backup schedule, fails to start for real (a
 * cron the schema lets through but no scheduler can run), after the fencing watcher, the exporter
 * lock, the backup server and the VM started. Nothing of them is left: the old failure path
 * released the lock before stopping the VM and never closed the schedule.
 */
class MainRoleFailedStartTest {
    @TempDir
    Path dir;

    @Test
    void aMainWhoseScheduleFailsToStartStopsItsVmServerLockAndWatcher() throws Exception {
        Path dataDir = dir.resolve("node-a");
        InstanceLayout layout = new InstanceLayout(dataDir);
        int port = Leftovers.freePort();
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true)) {
            NodeContext ctx = NodeContext.open(TestNodeConfig.write(dir, "node-a", "failed", zk.getConnectString(),
                    Duration.ofSeconds(2), "\"resiliency-backup-periodicity\": \"99 * * * *\"",
                    "\"bind\": \"127.0.0.1\", \"port\": " + port));
            try {
                Epoch epoch = new EpochStore(ctx.client(), ctx.layout()).initialize("node-a");
                MainRole main = new MainRole(ctx, epoch, false, reason -> { }, FenceMarker.of(layout), Promotion::restoreDisks);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, main::start);
                assertTrue(e.getMessage().contains("99"), e.getMessage());

                assertTrue(Files.exists(layout.qemuLog()), "the VM had started before the schedule failed");
                assertEquals(List.of(), Leftovers.processesMentioning(dataDir), "no QEMU of the instance runs");
                assertEquals(List.of(), ctx.client().getChildren().forPath(ctx.layout().exporterLockPath()),
                        "the exporter lock is released");
                assertFalse(Leftovers.accepts(port), "the backup server no longer listens");
                assertTrue(Leftovers.bindable(port), port + " can be bound again");
                await("no thread of the main's components").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(50))
                        .until(() -> Leftovers.threads("fencing-node-a", "epoch-check-node-a", "backup-server-",
                                "vm-supervisor-", "resilient-kvm-backup-").isEmpty());
                main.close(); // after a failed start: nothing more to do, and no error
            } finally {
                ctx.client().close();
            }
        }
    }
}

package io.resilientkvm.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.testing.TestTiming;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.takeover.fencing.FailsafeAck;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A promoted clone's VM starts only after its own fail-safe promise ended, the old main stopped
 * announcing MAIN of the older epoch, and one suspend bound more (real ZooKeeper, real member
 * znodes). The property checked is the order of events on one monotonic clock: the window ends a
 * bound or more after the last of them.
 */
class PromotionWindowTest {
    private static final Duration BOUND = Duration.ofMillis(600);
    private static final Duration DEADLINE = TestTiming.scaled(Duration.ofSeconds(30));

    @TempDir
    Path dir;

    @Test
    void theVmWaitsForItsPromiseTheOldMainsAnnouncementAndABound() throws Exception {
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                CuratorFramework client = ZkClients.connect(ZkSettings.of(zk.getConnectString()))) {
            NodeConfig config = TestNodeConfig.write(dir, "node-b", "win", zk.getConnectString(), BOUND, "", "");
            NodeContext ctx = new NodeContext(config, null, null, client, config.zkLayout());
            Epoch one = new Epoch(1, "node-b", Instant.now(), 1);
            // This clone had acknowledged node-a for a moment more.
            Instant promiseEnd = Instant.now().plusMillis(300);
            new FailsafeAck("node-a", 0, Instant.now(), promiseEnd).write(FailsafeAck.file(config.layout()));
            try (Membership oldMain = Membership.register(client, ctx.layout(),
                    new MemberInfo("node-a", Role.MAIN, "https://127.0.0.1:1", 0, Instant.now()), 10_000)) {
                CompletableFuture<Long> windowEnd = CompletableFuture.supplyAsync(() -> {
                    try {
                        PromotionWindow.await(ctx, one);
                        return System.nanoTime();
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                });
                await().atMost(DEADLINE).until(() -> Instant.now().isAfter(promiseEnd.plusMillis(50)));
                assertFalse(windowEnd.isDone(), "the VM may not start while the old main announces MAIN of epoch 0");
                oldMain.update(new MemberInfo("node-a", Role.FENCED, "", 0, Instant.now())); // it saw the new epoch
                long fenced = System.nanoTime();
                long end = windowEnd.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
                assertTrue(end - fenced >= BOUND.toNanos(), "the window ended " + (end - fenced) / 1_000_000
                        + " ms after the old main announced FENCED, less than the bound " + BOUND.toMillis() + " ms");
            }
        }
    }
}

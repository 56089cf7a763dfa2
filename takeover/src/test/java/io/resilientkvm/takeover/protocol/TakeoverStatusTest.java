package io.resilientkvm.takeover.protocol;

import static io.resilientkvm.takeover.protocol.Fixtures.T0;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Role;
import io.resilientkvm.takeover.protocol.TakeoverStatus.CloneLag;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What 'bin/takeover status' shows, read from a real embedded ZooKeeper before and after a takeover. */
class TakeoverStatusTest {
    private static final Clock CLOCK = Clock.fixed(T0.plusSeconds(600), ZoneOffset.UTC);

    @TempDir
    Path dir;

    @Test
    void epochMembersLagsAndFencesBeforeAndAfterATakeover() throws Exception {
        try (ZkCluster cluster = new ZkCluster(dir)) {
            ZkLayout layout = new ZkLayout("/rkvm", "status");
            cluster.setUp(layout, 5, 3, 5);
            cluster.register(layout, "node-a", Role.MAIN, 0);
            cluster.register(layout, "clone2", Role.CLONE, 0);

            TakeoverStatus before = TakeoverStatus.read(cluster.clone1, layout, CLOCK);
            assertEquals(0, before.epoch().number());
            assertEquals("node-a", before.epoch().owner());
            assertEquals(java.util.List.of("clone2", "node-a"), before.members().stream().map(MemberInfo::node).toList());
            assertEquals(1, before.devices().size());
            TakeoverStatus.DeviceStatus disk = before.devices().get(0);
            assertEquals(5, disk.newest().sequence());
            CloneLag c1 = disk.clones().get(0);
            assertEquals("clone1", c1.node());
            assertEquals(new Lag(2, Duration.ofMinutes(2)), c1.lag());
            assertEquals(Duration.ofMinutes(7), c1.dataAge());
            assertFalse(c1.running());
            assertFalse(c1.stale());
            CloneLag c2 = disk.clones().get(1);
            assertEquals(Lag.NONE, c2.lag());
            assertTrue(c2.running());
            assertEquals(java.util.List.of(), before.fenced());
            assertNull(before.takeoverHolder());
            String table = before.table();
            assertTrue(table.contains("Epoch: 0 owned by node-a"), table);
            assertTrue(table.contains("2 backups, 00:02:00 behind"), table);
            assertTrue(table.contains("Fenced: none"), table);

            new Takeover(cluster.clone2, layout, "clone2", new TakeoverOptions(true, Duration.ofSeconds(10), CLOCK))
                    .run(Confirmation.YES, (plan, epoch) -> { }, StepListener.NONE);
            TakeoverStatus after = TakeoverStatus.read(cluster.clone1, layout, CLOCK);
            assertEquals(1, after.epoch().number());
            assertEquals("clone2", after.epoch().owner());
            assertEquals("node-a", after.fenced().get(0).node());
            assertTrue(after.devices().get(0).clones().get(0).stale(), "clone1's status is from epoch 0");
            assertTrue(after.table().contains("node-a (was main of epoch 0, marked by clone2"), after.table());
        }
    }
}

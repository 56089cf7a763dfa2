package io.resilientkvm.takeover.protocol;

import static io.resilientkvm.takeover.protocol.Fixtures.T0;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.takeover.fencing.FenceReason;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Seeing and clearing fenced nodes, against a real embedded ZooKeeper. */
class FencedNodesTest {
    @TempDir
    static Path dir;
    private static ZkCluster cluster;
    private static int instances;

    @BeforeAll
    static void start() throws Exception {
        cluster = new ZkCluster(dir);
    }

    @AfterAll
    static void stop() throws Exception {
        cluster.close();
    }

    private static ZkLayout fresh() {
        return new ZkLayout("/rkvm", "fence" + (++instances));
    }

    private static void selfFence(ZkLayout layout, String node, long epoch) throws Exception {
        // What FencingWatcher announces: the reason's sentence.
        cluster.client(node).create().orSetData().creatingParentContainersIfNeeded().forPath(layout.fencedPath(node),
                new FenceReason(node, "ZooKeeper session lost", epoch, T0).toString().getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aMarkUnderTheCurrentEpochIsListedAndAStaleEpochCannotMark() throws Exception {
        ZkLayout layout = fresh();
        Epoch zero = cluster.setUp(layout, 1, 1, 1);
        FencedNodes fenced = new FencedNodes(cluster.clone1, layout);
        assertEquals(List.of(), fenced.list());
        Epoch one = new EpochStore(cluster.clone1, layout).advance(zero, "clone1");
        fenced.mark(one, "clone1", new FenceReason("node-a", "replaced", 0, T0));
        FencedNode mark = fenced.list().get(0);
        assertEquals("node-a", mark.node());
        assertEquals(new FenceReason("node-a", "replaced", 0, T0), mark.reason());
        assertEquals("clone1", mark.markedBy());

        RefusedException stale = assertThrows(RefusedException.class, () -> new FencedNodes(cluster.main, layout)
                .mark(zero, "node-a", new FenceReason("clone1", "revenge", 0, T0)));
        assertEquals(3, stale.exitStatus().code());
        assertFalse(fenced.isFenced("clone1"));
    }

    @Test
    void aSelfFencedMainsSentenceIsReadAsItsReason() throws Exception {
        ZkLayout layout = fresh();
        cluster.setUp(layout, 1, 1, 1);
        selfFence(layout, "node-a", 0);
        FencedNode f = new FencedNodes(cluster.clone2, layout).read("node-a").orElseThrow();
        assertTrue(f.reason().why().contains("ZooKeeper session lost"), f.reason().why());
        assertEquals("node-a", f.markedBy());
    }

    @Test
    void aTakeoverAfterTheMainFencedItselfRewritesTheMarkWithTheTakeoversReason() throws Exception {
        ZkLayout layout = fresh();
        cluster.setUp(layout, 1, 1, 1);
        selfFence(layout, "node-a", 0);
        TakeoverResult r = new Takeover(cluster.clone1, layout, "clone1", TakeoverOptions.defaults())
                .run(Confirmation.YES, (plan, epoch) -> { }, StepListener.NONE);
        assertTrue(r.oldMainFenced());
        FencedNode f = new FencedNodes(cluster.clone2, layout).read("node-a").orElseThrow();
        assertEquals("clone1", f.markedBy());
        assertEquals(0, f.reason().epoch());
        assertTrue(f.reason().why().startsWith("replaced as main by clone1 (takeover to epoch 1)"), f.reason().why());
    }

    @Test
    void theEpochOwnersFenceIsClearedOnlyWhenTheOperatorInsists() throws Exception {
        ZkLayout layout = fresh();
        cluster.setUp(layout, 1, 1, 1);
        selfFence(layout, "node-a", 0);
        FencedNodes fenced = new FencedNodes(cluster.clone2, layout);
        RefusedException e = assertThrows(RefusedException.class, () -> fenced.clear("node-a", false));
        assertTrue(e.getMessage().startsWith("node node-a still owns the current epoch 0 (no clone took over)"), e.getMessage());
        assertTrue(fenced.isFenced("node-a"));

        assertEquals("node-a", fenced.clear("node-a", true).orElseThrow().node());
        assertFalse(fenced.isFenced("node-a"));
        assertEquals(Optional.empty(), fenced.clear("node-a", false), "clearing twice is a no-op");
    }

    @Test
    void aFencedNodeWhoseAgentStillAnnouncesMainIsNeverCleared() throws Exception {
        ZkLayout layout = fresh();
        Epoch zero = cluster.setUp(layout, 1, 1, 1);
        new EpochStore(cluster.clone1, layout).advance(zero, "clone1");
        selfFence(layout, "node-a", 0);
        try (Membership m = cluster.register(layout, "node-a", Role.MAIN, 0)) {
            RefusedException e = assertThrows(RefusedException.class, () -> new FencedNodes(cluster.clone2, layout).clear("node-a", true));
            assertTrue(e.getMessage().contains("still announces the main role"), e.getMessage());
            m.update(m.info().withRole(Role.FENCED, 0));
            assertTrue(new FencedNodes(cluster.clone2, layout).clear("node-a", false).isPresent());
        }
    }

    @Test
    void afterATakeoverTheOldMainIsClearedToRejoinAndAFencedCloneCannotTakeOver() throws Exception {
        ZkLayout layout = fresh();
        cluster.setUp(layout, 1, 1, 1);
        TakeoverOptions options = TakeoverOptions.defaults();
        new Takeover(cluster.clone1, layout, "clone1", options).run(Confirmation.YES, (plan, epoch) -> { }, StepListener.NONE);
        FencedNodes fenced = new FencedNodes(cluster.clone2, layout);
        assertTrue(fenced.isFenced("node-a"));
        assertTrue(fenced.clear("node-a", false).isPresent(), "node-a no longer owns the epoch: it may rejoin as a clone");

        // A fenced clone is refused even with --force until an operator clears it.
        new FencedNodes(cluster.clone1, layout).mark(new EpochStore(cluster.clone1, layout).current().orElseThrow(), "clone1",
                new FenceReason("clone2", "disk errors", 1, T0));
        cluster.writeStatus(layout, "clone2", 1, 1);
        RefusedException e = assertThrows(RefusedException.class, () -> new Takeover(cluster.clone2, layout, "clone2",
                options.withForce(true)).run(Confirmation.YES, (plan, epoch) -> { }, StepListener.NONE));
        assertTrue(e.getMessage().contains("this node clone2 is fenced"), e.getMessage());
        fenced.clear("clone2", false);
        assertTrue(new Takeover(cluster.clone2, layout, "clone2", options.withForce(true)).preview().go());
    }
}

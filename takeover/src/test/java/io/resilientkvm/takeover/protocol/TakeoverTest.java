package io.resilientkvm.takeover.protocol;

import static io.resilientkvm.takeover.protocol.Fixtures.T0;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.takeover.fencing.FenceMarker;
import io.resilientkvm.takeover.fencing.FencingWatcher;
import io.resilientkvm.takeover.membership.Role;
import io.resilientkvm.takeover.protocol.StepReport.Status;
import io.resilientkvm.takeover.protocol.StepReport.Step;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The protocol against a real embedded ZooKeeper, one Curator client per node. */
class TakeoverTest {
    private static final Clock CLOCK = Clock.fixed(T0.plusSeconds(600), ZoneOffset.UTC);
    private static final TakeoverOptions OPTIONS = new TakeoverOptions(false, Duration.ofSeconds(20), CLOCK);

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
        return new ZkLayout("/rkvm", "vm" + (++instances));
    }

    /** Records what the node agent would do. */
    private static final class Promoted implements Promotion {
        final List<String> calls = new CopyOnWriteArrayList<>();
        volatile long promotedNanos;

        @Override
        public void promote(TakeoverPlan plan, Epoch newEpoch) {
            promotedNanos = System.nanoTime();
            calls.add(plan.node() + "@" + newEpoch.number());
        }
    }

    private static Takeover takeover(ZkLayout layout, String node, TakeoverOptions options) {
        return new Takeover(cluster.client(node), layout, node, options);
    }

    @Test
    void anUpToDateCloneTakesOverReportsEveryStepAndFencesTheOldMain() throws Exception {
        ZkLayout layout = fresh();
        Epoch zero = cluster.setUp(layout, 5, 5, 4);
        List<StepReport> seen = new CopyOnWriteArrayList<>();
        Promoted promoted = new Promoted();
        Duration oldVmWait = Duration.ofMillis(300);
        long[] advancedNanos = new long[1];

        TakeoverResult r = takeover(layout, "clone1", new TakeoverOptions(false, OPTIONS.lockTimeout(), CLOCK, oldVmWait, java.util.Optional.empty()))
                .run(Confirmation.YES, promoted, s -> {
                    if (s.step() == Step.ADVANCE_EPOCH && s.status() == Status.DONE) {
                        advancedNanos[0] = System.nanoTime();
                    }
                    seen.add(s);
                });
        assertTrue(promoted.promotedNanos - advancedNanos[0] >= oldVmWait.toNanos(),
                "the promotion starts only after the old main's watchdog bound, counted from the epoch's move");
        assertTrue(seen.stream().anyMatch(s -> s.step() == Step.AWAIT_OLD_VM && s.status() == Status.STARTED
                && s.detail().contains("waiting 300 ms")), seen::toString);

        assertEquals(0, r.oldEpoch().number());
        assertEquals(1, r.newEpoch().number());
        assertEquals("clone1", r.newEpoch().owner());
        assertEquals("node-a", r.oldMain());
        assertTrue(r.oldMainFenced());
        assertEquals(Fixtures.point("virtio0", 5), r.restored().get(0).restore());
        assertEquals(Duration.ofMinutes(5), r.rpo(), "fixed clock T0+10 min minus point #5 at T0+5 min");
        assertEquals(List.of("clone1@1"), promoted.calls);
        assertEquals(new EpochStore(cluster.main, layout).current().orElseThrow(), r.newEpoch());

        List<Step> order = new ArrayList<>();
        for (StepReport s : seen) {
            if (s.status() == Status.STARTED) {
                order.add(s.step());
            } else {
                assertEquals(Status.DONE, s.status(), s::toString);
            }
        }
        assertEquals(List.of(Step.values()), order);
        assertEquals(Step.values().length, r.steps().size());

        FencedNode fence = new FencedNodes(cluster.clone2, layout).read("node-a").orElseThrow();
        assertEquals(0, fence.reason().epoch());
        assertEquals("clone1", fence.markedBy());
        assertTrue(fence.reason().why().contains("replaced as main by clone1"), fence.reason().why());

        // The old main's writes under its epoch are refused from now on.
        RefusedException refused = assertThrows(RefusedException.class,
                () -> new ManifestCatalog(cluster.main, layout).publish(zero, Fixtures.manifest("virtio0", Fixtures.CHAIN, 6, 0)));
        assertEquals(3, refused.exitStatus().code());
        assertEquals(6, new ManifestCatalog(cluster.clone2, layout).list().size());
        assertNull(TakeoverStatus.lockHolder(cluster.clone2, layout), "lock released");
    }

    @Test
    void twoClonesRacingThroughTheLockProduceExactlyOneMain() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 4; round++) {
                ZkLayout layout = fresh();
                cluster.setUp(layout, 5, 5, 5);
                Promoted promoted = new Promoted();
                CountDownLatch go = new CountDownLatch(1);
                Future<TakeoverResult> a = pool.submit(() -> {
                    go.await(30, TimeUnit.SECONDS);
                    return takeover(layout, "clone1", OPTIONS).run(Confirmation.YES, promoted, StepListener.NONE);
                });
                Future<TakeoverResult> b = pool.submit(() -> {
                    go.await(30, TimeUnit.SECONDS);
                    return takeover(layout, "clone2", OPTIONS).run(Confirmation.YES, promoted, StepListener.NONE);
                });
                go.countDown();
                List<Object> outcomes = List.of(outcome(a), outcome(b));
                assertOneWinner(layout, outcomes, promoted);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * The compare-and-set alone: two takeovers whose locks did not exclude each other (as when a
     * lock holder's session expired) both pass planning before either advances the epoch.
     */
    @Test
    void twoClonesThatBothPassedPlanningCannotBothAdvanceTheEpoch() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 4; round++) {
                ZkLayout layout = fresh();
                cluster.setUp(layout, 5, 5, 5);
                Promoted promoted = new Promoted();
                CountDownLatch bothPlanned = new CountDownLatch(2);
                Confirmation meetTheOther = plan -> {
                    bothPlanned.countDown();
                    try {
                        return bothPlanned.await(30, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return false;
                    }
                };
                Future<TakeoverResult> a = pool.submit(() -> new Takeover(cluster.clone1, layout, "clone1", OPTIONS,
                        layout.takeoverLockPath() + "-a").run(meetTheOther, promoted, StepListener.NONE));
                Future<TakeoverResult> b = pool.submit(() -> new Takeover(cluster.clone2, layout, "clone2", OPTIONS,
                        layout.takeoverLockPath() + "-b").run(meetTheOther, promoted, StepListener.NONE));
                List<Object> outcomes = List.of(outcome(a), outcome(b));
                assertOneWinner(layout, outcomes, promoted);
                RefusedException lost = (RefusedException) outcomes.stream().filter(o -> o instanceof RefusedException).findFirst().orElseThrow();
                assertTrue(lost.getMessage().contains("another takeover won"), lost.getMessage());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static Object outcome(Future<TakeoverResult> f) throws Exception {
        try {
            return f.get(60, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            return e.getCause();
        }
    }

    private static void assertOneWinner(ZkLayout layout, List<Object> outcomes, Promoted promoted) throws Exception {
        List<TakeoverResult> won = outcomes.stream().filter(o -> o instanceof TakeoverResult).map(o -> (TakeoverResult) o).toList();
        List<Object> lost = outcomes.stream().filter(o -> !(o instanceof TakeoverResult)).toList();
        assertEquals(1, won.size(), () -> "outcomes: " + outcomes);
        assertEquals(1, lost.size());
        assertTrue(lost.get(0) instanceof RefusedException, () -> "the loser is refused, got " + lost.get(0));
        assertEquals(3, ((RefusedException) lost.get(0)).exitStatus().code());
        Epoch now = new EpochStore(cluster.main, layout).current().orElseThrow();
        assertEquals(1, now.number(), "moved by exactly one");
        assertEquals(won.get(0).plan().node(), now.owner());
        assertEquals(List.of(now.owner() + "@1"), promoted.calls, "only the winner is promoted");
    }

    @Test
    void aLaggingCloneIsRefusedWithExit3AndSucceedsWithForceAfterTheLockWasReleased() throws Exception {
        ZkLayout layout = fresh();
        cluster.setUp(layout, 5, 3, -1);
        Promoted promoted = new Promoted();
        List<StepReport> seen = new CopyOnWriteArrayList<>();

        RefusedException e = assertThrows(RefusedException.class,
                () -> takeover(layout, "clone1", OPTIONS).run(Confirmation.YES, promoted, seen::add));
        assertEquals(3, e.exitStatus().code());
        assertTrue(e.getMessage().contains("clone1 holds virtio0 up to INC #3 of chain " + Fixtures.CHAIN
                + " but the main published INC #5 of chain " + Fixtures.CHAIN + " (2 backups, 00:02:00 behind)"), e.getMessage());
        assertTrue(seen.contains(new StepReport(Step.PLAN, Status.FAILED, seen.stream().filter(s -> s.step() == Step.PLAN
                && s.status() == Status.FAILED).findFirst().orElseThrow().millis(), "1 refusal(s)")));
        assertTrue(seen.stream().anyMatch(s -> s.step() == Step.UNLOCK && s.status() == Status.DONE));
        assertEquals(0, new EpochStore(cluster.main, layout).current().orElseThrow().number(), "nothing changed");
        assertEquals(List.of(), promoted.calls);

        // The preview says the same without taking anything.
        assertFalse(takeover(layout, "clone1", OPTIONS).preview().go());

        TakeoverResult r = takeover(layout, "clone1", OPTIONS.withForce(true)).run(Confirmation.YES, promoted, StepListener.NONE);
        assertEquals(1, r.newEpoch().number());
        assertEquals(Fixtures.point("virtio0", 3), r.restored().get(0).restore());
        assertEquals(Duration.ofMinutes(7), r.rpo());
        assertEquals(List.of(Finding.Check.BEHIND), r.plan().findings().stream().map(Finding::check).toList());
    }

    @Test
    void aCloneLessUpToDateThanTheOtherCloneIsRefusedAndTheOtherSucceeds() throws Exception {
        ZkLayout layout = fresh();
        cluster.setUp(layout, 5, 4, 5);
        cluster.register(layout, "clone2", Role.CLONE, 0);
        Promoted promoted = new Promoted();
        RefusedException e = assertThrows(RefusedException.class,
                () -> takeover(layout, "clone1", OPTIONS).run(Confirmation.YES, promoted, StepListener.NONE));
        assertTrue(e.getMessage().contains("clone2 is more up to date for virtio0: it holds INC #5"), e.getMessage());
        assertEquals(List.of(), promoted.calls);

        TakeoverResult r = takeover(layout, "clone2", OPTIONS).run(Confirmation.YES, promoted, StepListener.NONE);
        assertEquals("clone2", r.newEpoch().owner());
    }

    @Test
    void aCloneThatAcknowledgedAMainCutFromZooKeeperRefusesEvenForcedUntilItsPromiseEnds() throws Exception {
        ZkLayout layout = fresh();
        cluster.setUp(layout, 5, 5, 5);
        Path file = dir.resolve(layout.instance() + "-failsafe-ack.json");
        // The clone's agent acknowledged node-a over the channel: no promotion before T0+10 min + 4 s.
        new io.resilientkvm.takeover.fencing.FailsafeAck("node-a", 0, CLOCK.instant(), CLOCK.instant().plusSeconds(4)).write(file);
        Promoted promoted = new Promoted();
        RefusedException e = assertThrows(RefusedException.class, () -> takeover(layout, "clone1",
                OPTIONS.withForce(true).withFailsafeAckFile(file)).run(Confirmation.YES, promoted, StepListener.NONE));
        assertEquals(3, e.exitStatus().code());
        assertTrue(e.getMessage().contains("acknowledged the main node-a of epoch 0")
                && e.getMessage().contains("no promotion until " + CLOCK.instant().plusSeconds(4) + " (4 s from now)"), e.getMessage());
        assertEquals(List.of(), promoted.calls);
        assertEquals(0, new EpochStore(cluster.clone2, layout).current().orElseThrow().number(), "nothing changed");
        // Once it expired, the same takeover goes.
        TakeoverOptions later = new TakeoverOptions(false, Duration.ofSeconds(20), Clock.offset(CLOCK, Duration.ofSeconds(4)))
                .withFailsafeAckFile(file);
        takeover(layout, "clone1", later).run(Confirmation.YES, promoted, StepListener.NONE);
        assertEquals(List.of("clone1@1"), promoted.calls);
    }

    @Test
    void aLiveMainIsRefusedThenForcedAndItsWatcherFencesIt() throws Exception {
        ZkLayout layout = fresh();
        Epoch zero = cluster.setUp(layout, 5, 5, 5);
        cluster.register(layout, "node-a", Role.MAIN, 0);
        RefusedException e = assertThrows(RefusedException.class,
                () -> takeover(layout, "clone1", OPTIONS).run(Confirmation.YES, new Promoted(), StepListener.NONE));
        assertTrue(e.getMessage().contains("the main node-a is still a live member with epoch 0"), e.getMessage());

        List<io.resilientkvm.takeover.fencing.FenceReason> fences = new CopyOnWriteArrayList<>();
        try (FencingWatcher watcher = FencingWatcher.start(cluster.main, layout, "node-a", zero, Duration.ofSeconds(2),
                Duration.ofSeconds(15), fences::add, new FenceMarker(dir.resolve(layout.instance() + "-fenced.json")))) {
            takeover(layout, "clone1", OPTIONS.withForce(true)).run(Confirmation.YES, new Promoted(), StepListener.NONE);
            // isFenced turns true a moment before the action has recorded the reason: wait for the reason.
            await().atMost(Duration.ofSeconds(20)).until(() -> !fences.isEmpty());
            assertTrue(watcher.isFenced());
        }
        assertEquals("node-a", fences.get(0).node());
        // Whoever wrote it last, node-a is listed fenced.
        assertTrue(new FencedNodes(cluster.clone2, layout).isFenced("node-a"));
    }

    @Test
    void aRunningTakeoverHoldsTheLockAndASecondIsRefusedNamingTheHolder() throws Exception {
        ZkLayout layout = fresh();
        cluster.setUp(layout, 5, 5, 5);
        CountDownLatch inConfirmation = new CountDownLatch(1);
        CountDownLatch answer = new CountDownLatch(1);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<TakeoverResult> first = pool.submit(() -> takeover(layout, "clone1", OPTIONS).run(plan -> {
                inConfirmation.countDown();
                try {
                    answer.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return false; // the operator says no
            }, new Promoted(), StepListener.NONE));
            assertTrue(inConfirmation.await(30, TimeUnit.SECONDS));
            assertEquals("clone1", TakeoverStatus.read(cluster.clone2, layout, CLOCK).takeoverHolder());

            RefusedException busy = assertThrows(RefusedException.class, () -> takeover(layout, "clone2",
                    OPTIONS.withLockTimeout(Duration.ofMillis(300))).run(Confirmation.YES, new Promoted(), StepListener.NONE));
            assertTrue(busy.getMessage().startsWith("another takeover is running (holder clone1"), busy.getMessage());

            answer.countDown();
            Object declined = outcome(first);
            assertTrue(declined instanceof RefusedException && ((RefusedException) declined).getMessage().contains("not confirmed"),
                    () -> "got " + declined);
        } finally {
            pool.shutdownNow();
        }
        // The lock went with the refusal: clone2 proceeds now.
        TakeoverResult r = takeover(layout, "clone2", OPTIONS).run(Confirmation.YES, new Promoted(), StepListener.NONE);
        assertEquals("clone2", r.newEpoch().owner());
    }

    @Test
    void aFailedPromotionKeepsTheNewEpochReleasesTheLockAndSaysWhatToDo() throws Exception {
        ZkLayout layout = fresh();
        cluster.setUp(layout, 5, 5, 5);
        Promotion broken = (plan, epoch) -> {
            throw new OperationFailedException("qemu-system-x86_64 exited with 1");
        };
        OperationFailedException e = assertThrows(OperationFailedException.class,
                () -> takeover(layout, "clone1", OPTIONS).run(Confirmation.YES, broken, StepListener.NONE));
        assertTrue(e.getMessage().contains("clone1 now owns epoch 1 but its promotion failed: qemu-system-x86_64 exited with 1"), e.getMessage());
        assertNull(TakeoverStatus.lockHolder(cluster.clone2, layout));
        // Running the takeover again on clone1 is refused: it is the main; its node agent resumes.
        RefusedException again = assertThrows(RefusedException.class,
                () -> takeover(layout, "clone1", OPTIONS.withForce(true)).run(Confirmation.YES, new Promoted(), StepListener.NONE));
        assertTrue(again.getMessage().contains("already owns the current epoch 1"), again.getMessage());
    }

    @Test
    void anInstanceWithoutEpochIsBadInput() throws Exception {
        ZkLayout layout = fresh();
        OperatorException e = assertThrows(OperatorException.class,
                () -> takeover(layout, "clone1", OPTIONS).run(Confirmation.YES, new Promoted(), StepListener.NONE));
        assertEquals(2, e.exitStatus().code());
        assertNotNull(e.getMessage());
        assertNull(TakeoverStatus.lockHolder(cluster.clone1, layout));
    }
}

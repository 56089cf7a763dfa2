package io.resilientkvm.takeover.fencing;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.testing.ManualTime;
import io.resilientkvm.engine.testing.TestTiming;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.takeover.fencing.AckChannel.AckAnswer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fail-safe mode of the {@link FencingWatcher} against a real ZooKeeper that is stopped and
 * restarted: the clones' side is the real {@link FailsafeAcknowledger} (with its durable promise);
 * the transport between them is an in-process {@link AckChannel} here (the node module tests it
 * over the peer channel). The boundaries are checked on {@link ManualTime}; the outage longer than
 * the session on real time.
 */
class FailsafeWatcherTest {
    private static final Duration BOUND = TestTiming.scaled(Duration.ofSeconds(2));
    private static final Duration QUARTER = BOUND.dividedBy(4);
    private static final Duration LONG_SESSION = TestTiming.scaled(Duration.ofSeconds(30));
    private static final Duration SHORT_SESSION = TestTiming.scaled(Duration.ofSeconds(4));
    private static final Duration DEADLINE = TestTiming.scaled(Duration.ofSeconds(20));

    @TempDir
    Path dir;

    private TestingServer zk;
    private CuratorFramework client;
    private final ManualTime time = new ManualTime();
    private final ZkLayout layout = new ZkLayout("/rkvm", "demo");
    private final List<FenceReason> fences = new CopyOnWriteArrayList<>();
    /** What each clone knows; a test changes it to make one refuse. */
    private final Map<String, FailsafeAcknowledger.View> views = new ConcurrentHashMap<>();
    private final Map<String, FailsafeAcknowledger> clones = new ConcurrentHashMap<>();
    /** Clones the main cannot reach now. */
    private final Set<String> unreachable = ConcurrentHashMap.newKeySet();
    private final AtomicInteger resumed = new AtomicInteger();

    @BeforeEach
    void start() throws Exception {
        zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
    }

    @AfterEach
    void stop() throws Exception {
        if (client != null) {
            client.close();
        }
        zk.close();
    }

    private CuratorFramework connect(Duration session) throws Exception {
        client = ZkClients.connect(ZkSettings.of(zk.getConnectString()).withSessionTimeout(session).withTrackEnsemble(false));
        return client;
    }

    private FailsafeAcknowledger clone(String name, java.time.InstantSource clock) {
        views.put(name, new FailsafeAcknowledger.View(true, 0, "main"));
        FailsafeAcknowledger a = new FailsafeAcknowledger(name, "demo", BOUND, dir.resolve(name + "/etc/failsafe-ack.json"),
                () -> views.get(name), clock);
        clones.put(name, a);
        return a;
    }

    private final AckChannel channel = (clone, request, timeout) -> unreachable.contains(clone)
            ? AckAnswer.failed(clone, "unreachable (link down)")
            : clones.get(clone).acknowledge(request.main(), request);

    private Failsafe failsafe() {
        return Failsafe.of("demo", Set.of("clone1", "clone2"), channel, BOUND, resumed::incrementAndGet);
    }

    /** clone1 and clone2 on {@link #time}, and the main's epoch 0 over a session that outlasts the test. */
    private Epoch twoClonesOnManualTime() throws Exception {
        clone("clone1", time);
        clone("clone2", time);
        return new EpochStore(connect(LONG_SESSION), layout).initialize("main");
    }

    private FencingWatcher watchOnManualTime(Epoch mine) {
        return FencingWatcher.start(client, layout, "main", mine, BOUND, LONG_SESSION, fences::add,
                new FenceMarker(dir.resolve("etc/fenced.json")), time, time, Optional.of(failsafe()), Runnable::run);
    }

    /** Stops ZooKeeper and waits for the watcher's fence deadline and first round to be armed. */
    private void cutAndAwaitTheRounds() throws Exception {
        zk.stop();
        await().atMost(DEADLINE).until(() -> time.pending() == 2);
        time.advance(Duration.ZERO); // the first round, at once
    }

    @Test
    void everyCloneAcknowledgingKeepsTheMainRunningFarPastTheBound() throws Exception {
        Epoch mine = twoClonesOnManualTime();
        try (FencingWatcher w = watchOnManualTime(mine)) {
            cutAndAwaitTheRounds();
            for (int i = 0; i < 40; i++) { // ten bounds, a round every quarter
                time.advance(QUARTER);
                assertFalse(w.isFenced(), () -> "fenced with every acknowledgement: " + fences);
                assertTrue(w.failsafeHolds());
            }
            // Each clone is bound by its promise: the bound and one interval after the last round.
            assertEquals(time.instant().plus(BOUND).plus(QUARTER), clones.get("clone1").binding(time.instant()).orElseThrow().until());
            assertTrue(FailsafeAcknowledger.binding(dir.resolve("clone2/etc/failsafe-ack.json"), time.instant()).isPresent(),
                    "the promise is on disk, for bin/takeover");
        }
    }

    /**
     * The VM watchdog's fallback while still connected: one round on demand. Every clone
     * acknowledging (each then bound by its promise) proves it; one unreachable, or one that
     * knows a newer epoch, does not; a fenced main never.
     */
    @Test
    void clonesAskedOnDemandWhileConnectedVouchOnlyWhenEveryOneAcknowledges() throws Exception {
        Epoch mine = twoClonesOnManualTime();
        try (FencingWatcher w = watchOnManualTime(mine)) {
            assertTrue(w.clonesVouchNow(BOUND), "both clones acknowledge");
            assertFalse(w.failsafeHolds(), "not cut: the backups' rule is unchanged");
            assertEquals(time.instant().plus(BOUND).plus(QUARTER), clones.get("clone2").binding(time.instant()).orElseThrow().until(),
                    "each clone promised, from its answer, no promotion for the bound and a round");
            unreachable.add("clone1");
            assertFalse(w.clonesVouchNow(BOUND), "one clone unreachable");
            unreachable.clear();
            views.put("clone2", new FailsafeAcknowledger.View(true, 1, "clone1"));
            assertFalse(w.clonesVouchNow(BOUND), "clone2 knows a newer epoch");
            views.put("clone2", new FailsafeAcknowledger.View(true, 0, "main"));
            assertTrue(w.clonesVouchNow(BOUND));
            new EpochStore(client, layout).advance(mine, "clone1"); // the watch fences the main
            await().atMost(DEADLINE).until(w::isFenced);
            assertFalse(w.clonesVouchNow(BOUND), "a fenced main is never vouched for");
        }
    }

    @Test
    void aCloneThatStopsAcknowledgingFencesTheMainExactlyABoundAfterTheLastCompleteRound() throws Exception {
        Epoch mine = twoClonesOnManualTime();
        try (FencingWatcher w = watchOnManualTime(mine)) {
            cutAndAwaitTheRounds();
            time.advance(QUARTER.multipliedBy(3)); // rounds at 0, Q, 2Q, 3Q: all acknowledged
            java.time.Instant lastComplete = time.instant();
            unreachable.add("clone2"); // its link goes down: rounds from 4Q on are incomplete
            time.advance(BOUND.minusMillis(1));
            assertFalse(w.isFenced(), () -> "fenced before the bound after the last complete round: " + fences);
            assertFalse(w.failsafeHolds() && time.instant().isAfter(lastComplete.plus(BOUND)));
            time.advance(Duration.ofMillis(1));
            assertTrue(w.isFenced(), "not fenced a bound after the last complete round");
            assertEquals(lastComplete.plus(BOUND), fences.get(0).at());
            assertTrue(fences.get(0).why().contains("without every clone's acknowledgement")
                    && fences.get(0).why().contains("clone2: unreachable"), fences.get(0).why());
            // clone2's promise, from the last round it answered, outlasts the main's fence by an interval.
            assertEquals(lastComplete.plus(BOUND).plus(QUARTER), FailsafeAck.read(dir.resolve("clone2/etc/failsafe-ack.json"))
                    .orElseThrow().until());
        }
    }

    @Test
    void aCloneThatKnowsANewerEpochRefusesAndTheMainFencesAtTheBound() throws Exception {
        Epoch mine = twoClonesOnManualTime();
        views.put("clone1", new FailsafeAcknowledger.View(true, 1, "clone1")); // it was promoted meanwhile
        try (FencingWatcher w = watchOnManualTime(mine)) {
            cutAndAwaitTheRounds();
            time.advance(BOUND.minusMillis(1));
            assertFalse(w.isFenced());
            assertFalse(w.failsafeHolds(), "no complete round: no backup may start");
            time.advance(Duration.ofMillis(1));
            assertTrue(w.isFenced());
            assertTrue(fences.get(0).why().contains("clone1 knows epoch 1"), fences.get(0).why());
            assertTrue(clones.get("clone1").binding(time.instant()).isEmpty(), "a refusal promises nothing");
        }
    }

    @Test
    void zooKeeperDownLongerThanTheSessionFencesNothingAndTheMainResumesOnANewSession() throws Exception {
        java.time.Clock system = java.time.Clock.systemUTC();
        clone("clone1", system);
        clone("clone2", system);
        Epoch mine = new EpochStore(connect(SHORT_SESSION), layout).initialize("main");
        AtomicReference<ConnectionState> last = new AtomicReference<>();
        List<ConnectionState> states = new CopyOnWriteArrayList<>();
        client.getConnectionStateListenable().addListener((c, s) -> {
            last.set(s);
            states.add(s);
        });
        try (FencingWatcher w = FencingWatcher.start(client, layout, "main", mine, BOUND, SHORT_SESSION, fences::add,
                new FenceMarker(dir.resolve("etc/fenced.json")), Optional.of(failsafe()))) {
            zk.stop();
            await().atMost(DEADLINE).until(() -> states.contains(ConnectionState.LOST));
            assertFalse(w.isFenced(), () -> "fenced although every clone acknowledged: " + fences);
            assertTrue(w.failsafeHolds());
            zk.restart();
            await().atMost(DEADLINE).until(() -> resumed.get() == 1);
            assertFalse(w.isFenced(), () -> "fenced: " + fences);
            assertFalse(w.failsafeHolds(), "back on ZooKeeper: no longer in fail-safe");
            // Still the main: a write under its epoch passes on the new session.
            new EpochStore(client, layout).writeUnderEpoch(mine, List.of(client.transactionOp().create()
                    .forPath(layout.instancePath() + "/probe")));
        }
        assertTrue(fences.isEmpty(), () -> "fenced: " + fences);
    }
}

package io.resilientkvm.takeover.protocol;

import static io.resilientkvm.takeover.protocol.Fixtures.T0;
import static io.resilientkvm.takeover.protocol.Fixtures.chain;
import static io.resilientkvm.takeover.protocol.Fixtures.member;
import static io.resilientkvm.takeover.protocol.Fixtures.point;
import static io.resilientkvm.takeover.protocol.Fixtures.status;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Role;
import io.resilientkvm.takeover.protocol.Finding.Check;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Every planner rule with plain values; the clock is fixed ten minutes after the first backup. */
class TakeoverPlannerTest {
    private static final Clock CLOCK = Clock.fixed(T0.plusSeconds(600), ZoneOffset.UTC);
    private static final Epoch EPOCH4 = new Epoch(4, "node-a", T0, 4);
    private final TakeoverPlanner planner = new TakeoverPlanner(CLOCK);

    private final Map<String, MemberInfo> members = new TreeMap<>();
    private final Map<String, ImporterStatus> statuses = new TreeMap<>();
    private final List<BackupManifest> published = new ArrayList<>(chain("virtio0", 5, 4));
    private final Set<String> fenced = new java.util.TreeSet<>();

    private TakeoverPlan plan(boolean force) {
        return planner.plan(new TakeoverInput("clone1", EPOCH4, members, published, statuses, fenced, force));
    }

    private static Set<Check> checks(TakeoverPlan p) {
        return p.findings().stream().map(Finding::check).collect(java.util.stream.Collectors.toSet());
    }

    @Test
    void anUpToDateCloneOfTheCurrentEpochGoesAndRestoresItsPoint() {
        statuses.put("clone1", status("clone1", 4, point("virtio0", 5)));
        statuses.put("clone2", status("clone2", 4, point("virtio0", 5)));
        members.put("clone1", member("clone1", Role.CLONE, 4));
        TakeoverPlan p = plan(false);
        assertTrue(p.go(), p::toString);
        assertEquals(List.of(), p.findings());
        assertEquals("node-a", p.oldMain());
        DevicePlan d = p.devices().get(0);
        assertEquals(point("virtio0", 5), d.restore());
        assertEquals(Lag.NONE, d.lag());
        assertEquals(5, d.published().sequence());
        // point #5 was taken at T0+5 min, the clock says T0+10 min
        assertEquals(Duration.ofMinutes(5), d.dataAge());
        assertEquals(Duration.ofMinutes(5), p.expectedDataAge());
    }

    @Test
    void aCloneBehindTheNewestPublishedBackupIsRefusedUnlessForced() throws Exception {
        statuses.put("clone1", status("clone1", 4, point("virtio0", 3)));
        TakeoverPlan p = plan(false);
        assertFalse(p.go());
        assertEquals(Set.of(Check.BEHIND), checks(p));
        assertEquals("clone1 holds virtio0 up to INC #3 of chain " + Fixtures.CHAIN + " but the main published INC #5 of chain "
                + Fixtures.CHAIN + " (2 backups, 00:02:00 behind); run with --force to accept losing them", p.reasons().get(0));
        assertEquals(new Lag(2, Duration.ofMinutes(2)), p.devices().get(0).lag());
        RefusedException e = assertThrows(RefusedException.class, p::requireGo);
        assertEquals(3, e.exitStatus().code());
        assertTrue(e.getMessage().contains("Run with --force"), e.getMessage());

        TakeoverPlan forced = plan(true);
        assertTrue(forced.go());
        assertEquals(point("virtio0", 3), forced.devices().get(0).restore());
        assertEquals(Duration.ofMinutes(7), forced.expectedDataAge());
        forced.requireGo();
    }

    @Test
    void aCloneHoldingNothingOfAPublishedDiskIsBehind() {
        published.addAll(chain("virtio1", 1, 4));
        statuses.put("clone1", status("clone1", 4, point("virtio0", 5)));
        TakeoverPlan p = plan(false);
        assertEquals(Set.of(Check.BEHIND), checks(p));
        assertTrue(p.reasons().get(0).startsWith("clone1 holds nothing of virtio1 but the main published 2 backup(s) up to INC #1"), p.reasons().get(0));
        TakeoverPlan forced = plan(true);
        assertTrue(forced.go());
        assertNull(forced.devices().get(1).restore());
    }

    @Test
    void anotherCloneHoldingAStrictlyNewerPointIsReportedAndRefusedUnlessForced() {
        published.clear();
        published.addAll(chain("virtio0", 5, 4));
        statuses.put("clone1", status("clone1", 4, point("virtio0", 5)));
        statuses.put("clone2", status("clone2", 4, point("virtio0", 5)));
        assertTrue(plan(false).go(), "the same point is not newer");

        // clone1 is behind and clone2 holds more: two findings
        statuses.put("clone1", status("clone1", 4, point("virtio0", 3)));
        members.put("clone2", member("clone2", Role.CLONE, 4));
        TakeoverPlan p = plan(false);
        assertEquals(Set.of(Check.BEHIND, Check.OTHER_CLONE_NEWER), checks(p));
        String newer = p.findings().stream().filter(f -> f.check() == Check.OTHER_CLONE_NEWER).findFirst().orElseThrow().message();
        assertEquals("clone2 is more up to date for virtio0: it holds INC #5 of chain " + Fixtures.CHAIN + ", this node INC #3 of chain "
                + Fixtures.CHAIN + " (2 backups, 00:02:00 newer); take over on clone2 instead, or use --force to accept losing the difference", newer);
        assertTrue(plan(true).go());
    }

    @Test
    void aNewerCloneThatIsNotRunningOrStaleIsStillReportedWithThatSaid() {
        published.clear(); // nothing published any more (e.g. the main's catalog was pruned)
        statuses.put("clone1", status("clone1", 4, point("virtio0", 2)));
        statuses.put("clone2", status("clone2", 3, point("virtio0", 4)));
        TakeoverPlan p = plan(false);
        assertEquals(Set.of(Check.OTHER_CLONE_NEWER), checks(p));
        assertTrue(p.reasons().get(0).contains("clone2 is not running now; its status is from epoch 3"), p.reasons().get(0));
    }

    @Test
    void theOldMainsOwnStatusDoesNotCountAsAnotherClone() {
        statuses.put("clone1", status("clone1", 4, point("virtio0", 5)));
        statuses.put("node-a", status("node-a", 3, point("virtio0", 6)));
        assertTrue(plan(false).go());
    }

    @Test
    void aLiveMainOfTheCurrentEpochIsRefusedUnlessForced() {
        statuses.put("clone1", status("clone1", 4, point("virtio0", 5)));
        members.put("node-a", member("node-a", Role.MAIN, 4));
        TakeoverPlan p = plan(false);
        assertEquals(List.of("the main node-a is still a live member with epoch 4: stop it first or use --force"
                + " (it fences itself when it sees the new epoch)"), p.reasons());
        assertTrue(plan(true).go());
    }

    @Test
    void aMemberStillCallingItselfMainOfAnOlderEpochOrFencedIsNotTheLiveMain() {
        statuses.put("clone1", status("clone1", 4, point("virtio0", 5)));
        members.put("node-a", member("node-a", Role.FENCED, 4));
        members.put("node-old", member("node-old", Role.MAIN, 3));
        assertTrue(plan(false).go(), () -> plan(false).toString());
    }

    @Test
    void aStatusFromAnOlderEpochIsRefusedUnlessForced() {
        statuses.put("clone1", status("clone1", 3, point("virtio0", 5)));
        TakeoverPlan p = plan(false);
        assertEquals(Set.of(Check.STALE_STATUS), checks(p));
        assertTrue(p.reasons().get(0).startsWith("this node's status is from epoch 3, older than the current epoch 4: it has not caught up"
                + " with the current main node-a"), p.reasons().get(0));
        assertTrue(plan(true).go());
    }

    @Test
    void theEpochOwnerIsRefusedEvenWithForce() {
        statuses.put("clone1", status("clone1", 4, point("virtio0", 5)));
        TakeoverPlan p = planner.plan(new TakeoverInput("clone1", new Epoch(4, "clone1", T0, 4), members, published, statuses, fenced, true));
        assertFalse(p.go());
        assertEquals(Set.of(Check.ALREADY_MAIN), checks(p));
        RefusedException e = assertThrows(RefusedException.class, p::requireGo);
        assertFalse(e.getMessage().contains("--force"), "force cannot help: " + e.getMessage());
    }

    @Test
    void aFencedNodeIsRefusedEvenWithForce() {
        statuses.put("clone1", status("clone1", 4, point("virtio0", 5)));
        fenced.add("clone1");
        TakeoverPlan p = plan(true);
        assertFalse(p.go());
        assertEquals(Set.of(Check.FENCED), checks(p));
        assertTrue(p.reasons().get(0).startsWith("this node clone1 is fenced"), p.reasons().get(0));
    }

    @Test
    void aNodeWithoutStatusOrWithoutAnyPointIsRefusedEvenWithForce() {
        TakeoverPlan none = plan(true);
        assertFalse(none.go());
        assertEquals(Set.of(Check.NO_STATUS), checks(none));

        statuses.put("clone1", status("clone1", 4));
        TakeoverPlan empty = plan(true);
        assertFalse(empty.go());
        assertEquals(Set.of(Check.BEHIND, Check.NOTHING_TO_RESTORE), checks(empty));
    }

    @Test
    void aNewerChainCountsAsNewerAndTheLagCountsAcrossChains() {
        String next = "20261124T110000.000Z";
        published.add(Fixtures.manifest("virtio0", next, 0, 4));
        published.add(Fixtures.manifest("virtio0", next, 1, 4));
        statuses.put("clone1", status("clone1", 4, point("virtio0", 4)));
        TakeoverPlan p = plan(false);
        // #5 of the first chain, then FULL and INC #1 of the next
        assertEquals(3, p.devices().get(0).lag().backups());
        assertEquals(Set.of(Check.BEHIND), checks(p));
    }
}

package io.resilientkvm.importer.retention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.params.ResilientParameters;
import io.resilientkvm.engine.params.RetentionAge;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The retention rules as a pure function of chain facts and a fixed clock. */
class RetentionPlannerTest {
    /** Tuesday 2026-11-24 12:00 UTC. */
    private static final Instant NOW = Instant.parse("2026-11-24T12:00:00Z");
    private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

    private static RetentionPolicy policy(String age, int last, int daily, int weekly, int monthly) {
        return new RetentionPolicy(RetentionAge.parse(age), last, daily, weekly, monthly);
    }

    /** A verified, unheld chain whose id is its first backup's time. */
    private static ChainFacts chain(Instant... backups) {
        return new ChainFacts(BackupRepository.stamp(backups[0]), List.of(backups), true, false);
    }

    private static ChainFacts with(ChainFacts c, boolean verified, boolean held) {
        return new ChainFacts(c.chainId(), c.backups(), verified, held);
    }

    private static Instant ago(Duration d) {
        return NOW.minus(d);
    }

    private static Instant daysAgo(int days) {
        return ago(Duration.ofDays(days));
    }

    private static RetentionPlan plan(RetentionPolicy p, ChainFacts... chains) {
        return RetentionPlanner.plan("vda", List.of(chains), p, CLOCK);
    }

    @Test
    void keepLastKeepsTheChainsOfTheNNewestBackupsAndRemovesTheRest() {
        ChainFacts a = chain(daysAgo(30), daysAgo(29));
        ChainFacts b = chain(daysAgo(20), daysAgo(19));
        ChainFacts c = chain(daysAgo(10), daysAgo(9));
        RetentionPlan plan = plan(policy("1D", 3, 0, 0, 0), a, b, c);

        assertEquals(List.of(a.chainId()), plan.toRemove());
        assertEquals(List.of(b.chainId(), c.chainId()), plan.kept());
        assertTrue(plan.decision(b.chainId()).reasons().contains("keep-last 3: 1 backup"), plan.toString());
        assertTrue(plan.decision(c.chainId()).reasons().contains("keep-last 3: 2 backups"), plan.toString());
        assertTrue(plan.decision(a.chainId()).reasons().get(0).contains("newer verified chain " + b.chainId()),
                plan.decision(a.chainId()).toString());
    }

    @Test
    void ageBoundaryABackupExactlyAtTheLimitIsKeptOneMillisecondOlderIsNot() {
        Instant limit = NOW.minus(Duration.ofDays(14)); // 2W
        ChainFacts atLimit = chain(limit);
        ChainFacts justOlder = chain(limit.minusMillis(1));
        ChainFacts newest = chain(daysAgo(1));
        RetentionPlan plan = plan(policy("2W", 1, 0, 0, 0), justOlder, atLimit, newest);

        assertEquals(limit, plan.ageLimit());
        assertEquals(List.of(justOlder.chainId()), plan.toRemove());
        assertTrue(plan.decision(atLimit.chainId()).reasons().get(0).startsWith("younger than 2W"), plan.toString());
    }

    @Test
    void monthsAreCalendarMonthsBack() {
        ChainFacts inside = chain(Instant.parse("2026-08-24T12:00:00Z")); // exactly 3M before NOW
        ChainFacts outside = chain(Instant.parse("2026-08-24T11:59:59Z"));
        ChainFacts newest = chain(daysAgo(1));
        RetentionPlan plan = plan(policy("3M", 1, 0, 0, 0), outside, inside, newest);

        assertEquals(List.of(outside.chainId()), plan.toRemove());
    }

    @Test
    void keepDailyKeepsTheNewestBackupOfEachOfTheLastNDaysWithBackups() {
        // Day -5 has two chains: only the later one holds that day's newest backup.
        ChainFacts day5early = chain(daysAgo(5).minus(Duration.ofHours(3)));
        ChainFacts day5late = chain(daysAgo(5));
        ChainFacts day4 = chain(daysAgo(4));
        // No backups on days -3 .. -1: they do not use up the count.
        ChainFacts today = chain(ago(Duration.ofHours(1)));
        ChainFacts day8 = chain(daysAgo(8));
        RetentionPlan plan = plan(policy("1h", 1, 3, 0, 0), day8, day5early, day5late, day4, today);

        assertEquals(List.of(day8.chainId(), day5early.chainId()), plan.toRemove(), plan.toString());
        assertTrue(plan.decision(day5late.chainId()).reasons().contains("keep-daily 3 (2026-11-19): 1 backup"),
                plan.toString());
    }

    @Test
    void keepDailyUsesTheClocksZoneForDays() {
        // 13:00 and 15:00 UTC are one UTC day but two days at UTC+10 (23:00 and 01:00).
        Instant a = Instant.parse("2026-11-20T13:00:00Z");
        Instant b = Instant.parse("2026-11-20T15:00:00Z");
        ChainFacts ca = chain(a);
        ChainFacts cb = chain(b);
        ChainFacts newest = chain(daysAgo(1));
        RetentionPolicy p = policy("1h", 1, 3, 0, 0);

        assertEquals(List.of(ca.chainId()), RetentionPlanner.plan("vda", List.of(ca, cb, newest), p, CLOCK).toRemove());
        Clock east = Clock.fixed(NOW, ZoneOffset.ofHours(10));
        assertEquals(List.of(), RetentionPlanner.plan("vda", List.of(ca, cb, newest), p, east).toRemove());
    }

    @Test
    void keepWeeklyUsesIsoWeeksSundayAndMondayAreDifferentWeeks() {
        ChainFacts sunday = chain(Instant.parse("2026-11-15T20:00:00Z")); // ISO week 46
        ChainFacts saturday = chain(Instant.parse("2026-11-14T20:00:00Z")); // week 46, older
        ChainFacts monday = chain(Instant.parse("2026-11-16T08:00:00Z")); // week 47
        ChainFacts thisWeek = chain(Instant.parse("2026-11-24T08:00:00Z")); // week 48
        RetentionPlan plan = plan(policy("1h", 1, 0, 3, 0), saturday, sunday, monday, thisWeek);

        assertEquals(List.of(saturday.chainId()), plan.toRemove(), plan.toString());
        assertTrue(plan.decision(sunday.chainId()).reasons().contains("keep-weekly 3 (2026-W46): 1 backup"), plan.toString());
        assertTrue(plan.decision(monday.chainId()).reasons().contains("keep-weekly 3 (2026-W47): 1 backup"), plan.toString());
    }

    @Test
    void keepMonthlyKeepsTheNewestOfEachMonth() {
        ChainFacts aug = chain(Instant.parse("2026-08-10T00:00:00Z"), Instant.parse("2026-08-31T23:59:59Z"));
        ChainFacts sepEarly = chain(Instant.parse("2026-09-01T00:00:00Z"));
        ChainFacts sepLate = chain(Instant.parse("2026-09-30T00:00:00Z"));
        ChainFacts july = chain(Instant.parse("2026-07-31T00:00:00Z"));
        ChainFacts nov = chain(daysAgo(1));
        RetentionPlan plan = plan(policy("1D", 1, 0, 0, 3), july, aug, sepEarly, sepLate, nov);

        // The 3 newest months with backups: Nov, Sep (its newest), Aug (its newest); July is the 4th.
        assertEquals(List.of(july.chainId(), sepEarly.chainId()), plan.toRemove(), plan.toString());
    }

    @Test
    void theNewestChainIsNeverRemovedEvenWhenNoRuleKeepsIt() {
        // Clock skew: the newest chain's backup is older than the previous chain's.
        ChainFacts older = chain(daysAgo(40));
        ChainFacts skewed = new ChainFacts(BackupRepository.stamp(daysAgo(30)), List.of(daysAgo(50)), true, false);
        ChainFacts previous = new ChainFacts(BackupRepository.stamp(daysAgo(35)), List.of(daysAgo(31)), true, false);
        RetentionPlan plan = plan(policy("1D", 1, 0, 0, 0), older, previous, skewed);

        assertEquals(List.of(older.chainId()), plan.toRemove(), plan.toString());
        assertEquals(List.of("the newest chain is never removed"), plan.decision(skewed.chainId()).reasons());
    }

    @Test
    void aHeldChainIsKept() {
        ChainFacts held = with(chain(daysAgo(60)), true, true);
        ChainFacts old = chain(daysAgo(50));
        ChainFacts newest = chain(daysAgo(1));
        RetentionPlan plan = plan(policy("1D", 1, 0, 0, 0), held, old, newest);

        assertEquals(List.of(old.chainId()), plan.toRemove());
        assertEquals(List.of("held by an instant-restore overlay (bin/restore --holds)"),
                plan.decision(held.chainId()).reasons());
    }

    @Test
    void nothingIsRemovedWithoutANewerCompleteAndVerifiedChain() {
        ChainFacts old = chain(daysAgo(50));
        ChainFacts damaged = with(chain(daysAgo(1)), false, false);
        RetentionPlan plan = plan(policy("1D", 1, 0, 0, 0), old, damaged);

        assertEquals(List.of(), plan.toRemove());
        assertTrue(plan.decision(old.chainId()).reasons().get(0).contains("no newer chain is complete and verified"),
                plan.toString());

        // A newer chain with no complete backup (still arriving) does not count either, and is left alone.
        ChainFacts arriving = new ChainFacts(BackupRepository.stamp(NOW), List.of(), true, false);
        RetentionPlan plan2 = plan(policy("1D", 1, 0, 0, 0), old, damaged, arriving);
        assertEquals(List.of(), plan2.toRemove(), plan2.toString());
        assertTrue(plan2.decision(arriving.chainId()).reasons().contains("no complete backup yet (it may be arriving); left alone"));

        // An older verified chain does not justify removing a newer one.
        ChainFacts verifiedOld = chain(daysAgo(70));
        ChainFacts middle = chain(daysAgo(60));
        RetentionPlan plan3 = plan(policy("1D", 1, 0, 0, 0), verifiedOld, with(middle, false, false), damaged);
        assertEquals(List.of(), plan3.toRemove(), plan3.toString());
    }

    @Test
    void aVerifiedChainInTheMiddleJustifiesRemovingOnlyOlderOnes() {
        ChainFacts a = chain(daysAgo(70));
        ChainFacts b = with(chain(daysAgo(60)), false, false);
        ChainFacts c = chain(daysAgo(50));
        ChainFacts d = with(chain(daysAgo(1)), false, false);
        RetentionPlan plan = plan(policy("1D", 1, 0, 0, 0), a, b, c, d);

        // a and b are older than the verified c; c itself has no newer verified chain.
        assertEquals(List.of(a.chainId(), b.chainId()), plan.toRemove(), plan.toString());
        assertEquals(List.of(c.chainId(), d.chainId()), plan.kept());
    }

    @Test
    void theOrderOfTheInputDoesNotMatter() {
        List<ChainFacts> chains = new ArrayList<>();
        for (int i = 40; i >= 0; i -= 2) {
            chains.add(chain(daysAgo(i), daysAgo(i).plus(Duration.ofHours(12))));
        }
        RetentionPolicy p = policy("5D", 4, 3, 2, 1);
        RetentionPlan sorted = RetentionPlanner.plan("vda", chains, p, CLOCK);
        List<ChainFacts> shuffled = new ArrayList<>(chains);
        Collections.shuffle(shuffled, new Random(4));

        assertEquals(sorted, RetentionPlanner.plan("vda", shuffled, p, CLOCK));
        assertTrue(sorted.toRemove().size() > 5, sorted.toString());
        assertTrue(sorted.kept().contains(chains.get(chains.size() - 1).chainId()));
    }

    @Test
    void everyDecisionCarriesAReasonAndEveryChainIsDecidedOnce() {
        List<ChainFacts> chains = new ArrayList<>();
        for (int i = 100; i >= 0; i -= 3) {
            chains.add(chain(daysAgo(i)));
        }
        RetentionPlan plan = plan(RetentionPolicy.DEFAULT, chains.toArray(ChainFacts[]::new));

        assertEquals(chains.size(), plan.decisions().size());
        assertEquals(chains.size(), plan.kept().size() + plan.toRemove().size());
        plan.decisions().forEach(d -> assertTrue(!d.reasons().isEmpty()));
    }

    @Test
    void thePolicyComesFromTheResilientParametersAndRejectsBadCounts() {
        ObjectNode p = new ObjectMapper().createObjectNode().put("resiliency-backup-periodicity", "0 * * * *")
                .put("remove-backup-older-than", "10D").put("backup-keep-last", 5).put("backup-keep-daily", 6)
                .put("backup-keep-weekly", 7).put("backup-keep-monthly", 8);
        assertEquals(policy("10D", 5, 6, 7, 8), RetentionPolicy.of(ResilientParameters.fromEffective(p)));
        assertEquals(policy("2W", 24, 7, 4, 3), RetentionPolicy.DEFAULT);
        assertThrows(IllegalArgumentException.class, () -> policy("2W", 0, 1, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> policy("2W", 1, -1, 1, 1));
    }
}

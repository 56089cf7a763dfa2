package io.resilientkvm.importer.retention;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.IsoFields;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Decides, as a pure function of the chains' facts, the policy and a clock, which chains of one
 * disk are removed. A backup is kept by keep-last, by being the newest of one of the last
 * keep-daily days / keep-weekly ISO weeks / keep-monthly months that have backups (in the
 * clock's time zone), or by being younger than remove-backup-older-than. A chain is kept when
 * any of its backups is kept; otherwise it is removed, whole, but only when all of these hold:
 * it is not the newest chain, no overlay holds it, and a newer chain is complete and verified.
 */
public final class RetentionPlanner {
    private RetentionPlanner() {
    }

    /** The plan for {@code device}'s {@code chains} at {@code clock}'s instant. */
    public static RetentionPlan plan(String device, List<ChainFacts> chains, RetentionPolicy policy, Clock clock) {
        Objects.requireNonNull(policy, "policy");
        Instant now = clock.instant();
        ZoneId zone = clock.getZone();
        Instant ageLimit = policy.removeOlderThan().before(now);
        List<ChainFacts> sorted = chains.stream().sorted(Comparator.comparing(ChainFacts::chainId)).toList();

        record Backup(String chainId, Instant time) {}
        List<Backup> newestFirst = new ArrayList<>();
        for (ChainFacts c : sorted) {
            c.backups().forEach(t -> newestFirst.add(new Backup(c.chainId(), t)));
        }
        newestFirst.sort(Comparator.comparing(Backup::time).thenComparing(Backup::chainId).reversed());

        // chain -> rule -> how many of its backups that rule keeps (insertion order = rule order)
        Map<String, Map<String, Integer>> keptBy = new LinkedHashMap<>();
        sorted.forEach(c -> keptBy.put(c.chainId(), new LinkedHashMap<>()));
        int last = policy.keepLast();
        for (Backup b : newestFirst) {
            if (last-- > 0) {
                keptBy.get(b.chainId()).merge("keep-last " + policy.keepLast(), 1, Integer::sum);
            }
        }
        bucketRule(newestFirst, policy.keepDaily(), "keep-daily", t -> t.atZone(zone).toLocalDate().toString(), keptBy,
                Backup::chainId, Backup::time);
        bucketRule(newestFirst, policy.keepWeekly(), "keep-weekly", t -> {
            ZonedDateTime z = t.atZone(zone);
            return z.get(IsoFields.WEEK_BASED_YEAR) + "-W" + z.get(IsoFields.WEEK_OF_WEEK_BASED_YEAR);
        }, keptBy, Backup::chainId, Backup::time);
        bucketRule(newestFirst, policy.keepMonthly(), "keep-monthly", t -> {
            ZonedDateTime z = t.atZone(zone);
            return z.getYear() + "-" + z.getMonthValue();
        }, keptBy, Backup::chainId, Backup::time);
        for (Backup b : newestFirst) {
            if (!b.time().isBefore(ageLimit)) {
                keptBy.get(b.chainId()).merge("younger than " + policy.removeOlderThan() + " (since " + ageLimit + ")", 1,
                        Integer::sum);
            }
        }

        List<ChainDecision> decisions = new ArrayList<>();
        for (int i = 0; i < sorted.size(); i++) {
            ChainFacts c = sorted.get(i);
            List<String> keep = new ArrayList<>();
            if (i == sorted.size() - 1) {
                keep.add("the newest chain is never removed");
            }
            if (!c.complete()) {
                keep.add("no complete backup yet (it may be arriving); left alone");
            }
            if (c.held()) {
                keep.add("held by an instant-restore overlay (bin/restore --holds)");
            }
            keptBy.get(c.chainId()).forEach((rule, n) -> keep.add(rule + ": " + n + " backup" + (n == 1 ? "" : "s")));
            if (!keep.isEmpty()) {
                decisions.add(new ChainDecision(c.chainId(), false, keep));
                continue;
            }
            String newerVerified = null;
            for (int j = i + 1; j < sorted.size() && newerVerified == null; j++) {
                if (sorted.get(j).complete() && sorted.get(j).verified()) {
                    newerVerified = sorted.get(j).chainId();
                }
            }
            Instant newest = c.backups().stream().max(Comparator.naturalOrder()).orElseThrow();
            if (newerVerified == null) {
                decisions.add(new ChainDecision(c.chainId(), false, List.of("no rule keeps it (newest backup " + newest
                        + "), but no newer chain is complete and verified; kept until one is")));
            } else {
                decisions.add(new ChainDecision(c.chainId(), true, List.of("no rule keeps any of its " + c.backups().size()
                        + " backups (newest " + newest + ", before " + ageLimit + "); newer verified chain " + newerVerified)));
            }
        }
        return new RetentionPlan(device, now, ageLimit, policy, decisions);
    }

    /** Keeps the newest backup of each of the {@code count} newest buckets that have backups. */
    private static <B> void bucketRule(List<B> newestFirst, int count, String rule, Function<Instant, String> bucket,
            Map<String, Map<String, Integer>> keptBy, Function<B, String> chainOf, Function<B, Instant> timeOf) {
        String lastBucket = null;
        int left = count;
        for (B b : newestFirst) {
            if (left <= 0) {
                return;
            }
            String k = bucket.apply(timeOf.apply(b));
            if (!k.equals(lastBucket)) {
                lastBucket = k;
                left--;
                keptBy.get(chainOf.apply(b)).merge(rule + " " + count + " (" + k + ")", 1, Integer::sum);
            }
        }
    }
}

package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatus.Point;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Role;
import io.resilientkvm.takeover.protocol.Finding.Check;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Decides whether a node may become the main, from plain values (no ZooKeeper here, so every
 * rule is tested directly). The rules, in docs/takeover.md: refuse when this node already owns
 * the epoch, is fenced, has no status or holds nothing (never overridable); refuse unless
 * forced when its status is from an older epoch, when it is behind the newest published
 * backup of any disk, when another clone holds a strictly newer point, or when the current
 * main is still a live member.
 */
public final class TakeoverPlanner {
    private final Clock clock;

    public TakeoverPlanner(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    public TakeoverPlan plan(TakeoverInput in) {
        Instant now = clock.instant();
        String node = in.node();
        Epoch epoch = in.epoch();
        String owner = epoch.owner();
        List<Finding> findings = new ArrayList<>();

        if (owner.equals(node)) {
            findings.add(new Finding(Check.ALREADY_MAIN, "this node " + node + " already owns the current epoch " + epoch.number()
                    + ": it is the main; there is nothing to take over", false));
        }
        if (in.fenced().contains(node)) {
            findings.add(new Finding(Check.FENCED, "this node " + node + " is fenced: it must not run the VM until an operator has checked it"
                    + " and cleared it ('bin/takeover status' shows why; 'bin/takeover clear-fence " + node + "')", false));
        }
        in.promise().filter(p -> p.liveAt(now)).ifPresent(p -> findings.add(new Finding(Check.ACKNOWLEDGED_MAIN,
                "this node " + node + " acknowledged the main " + p.main() + " of epoch " + p.epoch() + " at " + p.at()
                + " (fail-safe: that main was cut from ZooKeeper and may still run its VM): it takes part in no promotion until "
                + p.until() + " (" + Math.max(1, Duration.between(now, p.until()).toSeconds()) + " s from now); run the takeover"
                + " again after that, when " + p.main() + " has fenced itself unless every clone still acknowledges it", false)));
        ImporterStatus mine = in.statuses().get(node);
        if (mine == null) {
            findings.add(new Finding(Check.NO_STATUS, "this node " + node + " has published no importer status: it is not a clone that"
                    + " imported backups (start its node agent as a clone and let it import first)", false));
        } else if (mine.epoch() < epoch.number()) {
            findings.add(new Finding(Check.STALE_STATUS, "this node's status is from epoch " + mine.epoch() + ", older than the current epoch "
                    + epoch.number() + ": it has not caught up with the current main " + owner + "; let it import from " + owner
                    + " first, or use --force", true));
        }
        for (MemberInfo m : in.members().values()) {
            if (m.role() == Role.MAIN && m.epoch() == epoch.number() && !m.node().equals(node)) {
                findings.add(new Finding(Check.MAIN_ALIVE, "the main " + m.node() + " is still a live member with epoch " + m.epoch()
                        + ": stop it first or use --force (it fences itself when it sees the new epoch)", true));
            }
        }

        Map<String, List<BackupManifest>> byDevice = new TreeMap<>();
        for (BackupManifest m : in.published()) {
            byDevice.computeIfAbsent(m.device(), d -> new ArrayList<>()).add(m);
        }
        TreeSet<String> devices = new TreeSet<>(byDevice.keySet());
        if (mine != null) {
            mine.held().forEach(p -> devices.add(p.device()));
        }
        List<DevicePlan> plans = new ArrayList<>();
        Duration oldest = Duration.ZERO;
        for (String device : devices) {
            List<BackupManifest> pubs = byDevice.getOrDefault(device, List.of());
            Point held = mine == null ? null : mine.point(device).orElse(null);
            BackupManifest newest = pubs.isEmpty() ? null : pubs.get(pubs.size() - 1);
            Lag lag = Lag.of(pubs, held);
            if (lag.behind() && mine != null) {
                findings.add(new Finding(Check.BEHIND, (held == null
                        ? node + " holds nothing of " + device + " but the main published " + lag.backups() + " backup(s) up to "
                        : node + " holds " + device + " up to " + Lag.describe(held.chainId(), held.sequence()) + " but the main published ")
                        + Lag.describe(newest.chainId(), newest.sequence()) + " (" + lag + "); run with --force to accept losing them", true));
            }
            Duration age = held == null ? null : nonNegative(Duration.between(held.takenAt(), now));
            if (age != null && age.compareTo(oldest) > 0) {
                oldest = age;
            }
            plans.add(new DevicePlan(device, held, newest, lag, age));
            for (ImporterStatus other : in.statuses().values()) {
                if (other.node().equals(node) || other.node().equals(owner)) {
                    continue;
                }
                other.point(device).filter(p -> newer(p, held)).ifPresent(p -> findings.add(otherNewer(in, node, device, held, other, p, pubs)));
            }
        }
        if (mine != null && plans.stream().allMatch(d -> d.restore() == null)) {
            findings.add(new Finding(Check.NOTHING_TO_RESTORE, "this node " + node + " holds no verified backup of any disk: there is nothing"
                    + " to restore (let its importer fetch the main's backups first)", false));
        }
        boolean go = findings.isEmpty() || (in.force() && findings.stream().allMatch(Finding::overridable));
        return new TakeoverPlan(node, epoch, owner, in.force(), go ? TakeoverPlan.Decision.GO : TakeoverPlan.Decision.REFUSE,
                findings, plans, oldest, now);
    }

    /** Strictly newer than {@code held} (anything is newer than nothing). */
    private static boolean newer(Point p, Point held) {
        return held == null || (p.atLeast(held.chainId(), held.sequence())
                && !(p.chainId().equals(held.chainId()) && p.sequence() == held.sequence()));
    }

    private static Finding otherNewer(TakeoverInput in, String node, String device, Point held, ImporterStatus other, Point p,
                                      List<BackupManifest> pubs) {
        StringBuilder b = new StringBuilder(other.node()).append(" is more up to date for ").append(device).append(": it holds ")
                .append(Lag.describe(p.chainId(), p.sequence())).append(", this node ")
                .append(held == null ? "nothing" : Lag.describe(held.chainId(), held.sequence()));
        if (held != null) {
            long between = pubs.stream().filter(m -> !held.atLeast(m.chainId(), m.sequence()) && p.atLeast(m.chainId(), m.sequence())).count();
            b.append(" (").append(between).append(between == 1 ? " backup, " : " backups, ")
                    .append(Lag.hms(nonNegative(Duration.between(held.takenAt(), p.takenAt())))).append(" newer)");
        }
        if (!in.members().containsKey(other.node())) {
            b.append("; ").append(other.node()).append(" is not running now");
        }
        if (other.epoch() < in.epoch().number()) {
            b.append("; its status is from epoch ").append(other.epoch());
        }
        b.append("; take over on ").append(other.node()).append(" instead, or use --force to accept losing the difference");
        return new Finding(Check.OTHER_CLONE_NEWER, b.toString(), true);
    }

    private static Duration nonNegative(Duration d) {
        return d.isNegative() ? Duration.ZERO : d;
    }
}

package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.zk.Epoch;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * The planner's decision for one node.
 *
 * @param node            the node that wants to become the main
 * @param epoch           the epoch read (its version is the compare-and-set token of the advance)
 * @param oldMain         the current main (the epoch's owner), the node that will be fenced
 * @param force           whether overridable findings were accepted
 * @param decision        GO or REFUSE
 * @param findings        everything that speaks against the takeover (with GO and force: the accepted risks)
 * @param devices         per disk: the point to restore and its lag
 * @param expectedDataAge the oldest restore point's age at planning time (the expected RPO); zero without points
 * @param plannedAt       when the plan was made
 */
public record TakeoverPlan(String node, Epoch epoch, String oldMain, boolean force, Decision decision, List<Finding> findings,
                           List<DevicePlan> devices, Duration expectedDataAge, Instant plannedAt) {
    public enum Decision { GO, REFUSE }

    public TakeoverPlan {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(epoch, "epoch");
        Objects.requireNonNull(oldMain, "oldMain");
        Objects.requireNonNull(decision, "decision");
        findings = List.copyOf(findings);
        devices = List.copyOf(devices);
        Objects.requireNonNull(expectedDataAge, "expectedDataAge");
        Objects.requireNonNull(plannedAt, "plannedAt");
    }

    public boolean go() {
        return decision == Decision.GO;
    }

    /** The findings as sentences. */
    public List<String> reasons() {
        return findings.stream().map(Finding::message).toList();
    }

    /** The findings that block without --force, or (for a never-overridable one) even with it. */
    public List<Finding> blocking() {
        return findings.stream().filter(f -> !force || !f.overridable()).toList();
    }

    /** Throws the refusal (exit 3) when the decision is REFUSE. */
    public void requireGo() throws RefusedException {
        if (go()) {
            return;
        }
        List<Finding> blocking = blocking();
        boolean forceHelps = !force && blocking.stream().allMatch(Finding::overridable);
        throw new RefusedException("takeover by " + node + " refused (current epoch " + epoch.number() + ", main " + oldMain + "):\n"
                + blocking.stream().map(f -> "  - " + f.message()).collect(Collectors.joining("\n"))
                + (forceHelps ? "\nRun with --force to accept these risks." : ""));
    }

    /** A few lines for a terminal. */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        b.append("Takeover by ").append(node).append(": ").append(decision)
                .append(force ? " (forced)" : "").append("; epoch ").append(epoch.number()).append(" -> ").append(epoch.number() + 1)
                .append(", old main ").append(oldMain).append('\n');
        for (DevicePlan d : devices) {
            b.append("  ").append(d.device()).append(": restore ")
                    .append(d.restore() == null ? "nothing" : Lag.describe(d.restore().chainId(), d.restore().sequence()))
                    .append(" (").append(d.lag()).append(d.dataAge() == null ? "" : ", data age " + Lag.hms(d.dataAge())).append(")\n");
        }
        for (Finding f : findings) {
            b.append(f.overridable() && force ? "  accepted: " : "  refused: ").append(f.message()).append('\n');
        }
        return b.toString();
    }
}

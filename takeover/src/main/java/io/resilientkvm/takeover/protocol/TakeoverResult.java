package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.zk.Epoch;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * A completed takeover.
 *
 * @param oldEpoch      the epoch before
 * @param newEpoch      the epoch this node now owns
 * @param oldMain       the node that was main (now marked fenced)
 * @param oldMainFenced whether the fence mark was written (false: it failed; the epoch still fences the old main)
 * @param plan          the plan that was carried out (restore points, accepted findings)
 * @param rpo           data age: promotion end minus the oldest restored point's capture time
 * @param rto           from the start of the takeover to the end of the promotion (VM running)
 * @param steps         the finished steps with their durations
 */
public record TakeoverResult(Epoch oldEpoch, Epoch newEpoch, String oldMain, boolean oldMainFenced, TakeoverPlan plan,
                             Duration rpo, Duration rto, List<StepReport> steps) {
    public TakeoverResult {
        Objects.requireNonNull(oldEpoch, "oldEpoch");
        Objects.requireNonNull(newEpoch, "newEpoch");
        Objects.requireNonNull(oldMain, "oldMain");
        Objects.requireNonNull(plan, "plan");
        Objects.requireNonNull(rpo, "rpo");
        Objects.requireNonNull(rto, "rto");
        steps = List.copyOf(steps);
    }

    public List<DevicePlan> restored() {
        return plan.devices();
    }

    /** The closing summary for a terminal. */
    @Override
    public String toString() {
        return "Takeover done: " + plan.node() + " is main of epoch " + newEpoch.number() + " (was " + oldEpoch.number() + ", main "
                + oldMain + (oldMainFenced ? ", now fenced" : ", fence mark NOT written") + ")\n"
                + restored().stream().map(d -> "  " + d.device() + ": restored "
                        + (d.restore() == null ? "nothing" : Lag.describe(d.restore().chainId(), d.restore().sequence())
                        + " taken " + d.restore().takenAt())).collect(Collectors.joining("\n"))
                + "\n  RPO (data age) " + Lag.hms(rpo) + ", RTO " + rto.toMillis() + " ms";
    }
}

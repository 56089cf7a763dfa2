package io.resilientkvm.takeover.protocol;

import java.util.Objects;

/**
 * One step of a takeover as it happens.
 *
 * @param step   the step
 * @param status STARTED, then DONE, FAILED or SKIPPED
 * @param millis how long the step took (0 for STARTED)
 * @param detail a short sentence: what it did or why it failed
 */
public record StepReport(Step step, Status status, long millis, String detail) {
    /** The protocol's steps, in order. */
    public enum Step {
        LOCK("take the takeover lock"),
        READ("read epoch, members, manifests, importer status, fences"),
        PLAN("check this node may take over"),
        CONFIRM("confirm"),
        ADVANCE_EPOCH("advance the epoch (compare-and-set)"),
        FENCE_OLD_MAIN("mark the old main fenced"),
        AWAIT_OLD_VM("wait until the old main's VM watchdog has paused its VM"),
        PROMOTE("restore, start the VM, exporter and backup server"),
        UNLOCK("release the takeover lock");

        private final String title;

        Step(String title) {
            this.title = title;
        }

        public String title() {
            return title;
        }
    }

    public enum Status { STARTED, DONE, FAILED, SKIPPED }

    public StepReport {
        Objects.requireNonNull(step, "step");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(detail, "detail");
    }

    @Override
    public String toString() {
        return String.format("%-16s %-8s %6d ms  %s", step, status, millis, detail);
    }
}

package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.takeover.fencing.FailsafeAck;
import io.resilientkvm.takeover.fencing.FenceReason;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.protocol.StepReport.Status;
import io.resilientkvm.takeover.protocol.StepReport.Step;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The takeover protocol run by the node that wants to become the main (docs/takeover.md):
 * take the takeover lock, read the instance's state, plan, confirm, advance the epoch by
 * compare-and-set, mark the old main fenced under the new epoch, promote, release the lock.
 * The lock only keeps operators from running two takeovers at once; the epoch's
 * compare-and-set is what makes exactly one of two racing takeovers win, even if a lock
 * holder lost its session. Holds nothing between calls.
 */
public final class Takeover {
    private static final Logger LOG = LoggerFactory.getLogger(Takeover.class);

    private final CuratorFramework client;
    private final ZkLayout layout;
    private final String node;
    private final TakeoverOptions options;
    private final String lockPath;
    private final TakeoverPlanner planner;

    /** A takeover by {@code node} of the instance at {@code layout}, through a started client. */
    public Takeover(CuratorFramework client, ZkLayout layout, String node, TakeoverOptions options) {
        this(client, layout, node, options, layout.takeoverLockPath());
    }

    /** With another lock path: tests use it to play two takeovers whose lock failed to exclude each other. */
    Takeover(CuratorFramework client, ZkLayout layout, String node, TakeoverOptions options, String lockPath) {
        this.client = Objects.requireNonNull(client, "client");
        this.layout = Objects.requireNonNull(layout, "layout");
        this.node = ZkLayout.requireName("node", node);
        this.options = Objects.requireNonNull(options, "options");
        this.lockPath = lockPath;
        this.planner = new TakeoverPlanner(options.clock());
    }

    /** Reads the state and plans, without the lock and without changing anything (a dry run). */
    public TakeoverPlan preview() throws BadInputException, OperationFailedException {
        return planner.plan(read());
    }

    /**
     * Runs the protocol. Every step is reported to {@code listener} as it starts and ends.
     *
     * @throws RefusedException         refused for safety (exit 3): lock held, plan refused, not confirmed, lost the epoch race;
     *                                  nothing was changed
     * @throws OperationFailedException ZooKeeper failed, or the promotion failed after this node took the epoch
     * @throws BadInputException        the instance has no epoch (wrong instance name or ZooKeeper)
     */
    public TakeoverResult run(Confirmation confirmation, Promotion promotion, StepListener listener) throws OperatorException {
        Objects.requireNonNull(confirmation, "confirmation");
        Objects.requireNonNull(promotion, "promotion");
        Steps steps = new Steps(listener == null ? StepListener.NONE : listener);
        NamedMutex mutex = new NamedMutex(client, lockPath, node);
        steps.start(Step.LOCK);
        acquire(mutex, steps);
        steps.done("held by " + node + " at " + lockPath);
        TakeoverPlan plan;
        Epoch newEpoch;
        boolean fenced = false;
        Instant promotedAt;
        try {
            steps.start(Step.READ);
            TakeoverInput input = read();
            steps.done("epoch " + input.epoch().number() + " owned by " + input.epoch().owner() + "; " + input.members().size()
                    + " member(s), " + input.published().size() + " published backup(s), " + input.statuses().size() + " clone status(es)");

            steps.start(Step.PLAN);
            plan = planner.plan(input);
            if (!plan.go()) {
                steps.failed(plan.blocking().size() + " refusal(s)");
                plan.requireGo();
            }
            steps.done(plan.findings().isEmpty() ? "GO" : "GO, forced past: " + plan.findings().stream()
                    .map(f -> f.check().name()).collect(Collectors.joining(", ")));

            steps.start(Step.CONFIRM);
            if (!confirmation.confirm(plan)) {
                steps.failed("not confirmed");
                throw new RefusedException("takeover by " + node + " not confirmed by the operator; nothing was changed");
            }
            steps.done("confirmed");

            steps.start(Step.ADVANCE_EPOCH);
            newEpoch = new EpochStore(client, layout).advance(plan.epoch(), node);
            long advancedNanos = System.nanoTime(); // the write is acknowledged: the old main's proofs all came before it
            steps.done("epoch " + plan.epoch().number() + " -> " + newEpoch.number() + ", owner " + node);

            steps.start(Step.FENCE_OLD_MAIN);
            FenceReason reason = new FenceReason(plan.oldMain(), "replaced as main by " + node + " (takeover to epoch " + newEpoch.number() + ")",
                    plan.epoch().number(), options.clock().instant());
            try {
                new FencedNodes(client, layout).mark(newEpoch, node, reason);
                fenced = true;
                steps.done(layout.fencedPath(plan.oldMain()));
            } catch (OperatorException e) {
                // The epoch already moved: the old main's writes are refused and its watcher fences it.
                // Stopping here would leave no main at all, so the promotion goes on.
                LOG.error("Could not mark the old main {} fenced: {}", plan.oldMain(), e.getMessage());
                steps.failed(e.getMessage());
            }

            awaitOldVm(steps, advancedNanos, plan.oldMain());

            steps.start(Step.PROMOTE);
            try {
                promotion.promote(plan, newEpoch);
            } catch (OperatorException | RuntimeException e) {
                steps.failed(e.getMessage());
                throw new OperationFailedException(node + " now owns epoch " + newEpoch.number() + " but its promotion failed: " + e.getMessage()
                        + ". Fix the cause and restart its node agent, which resumes as the main of epoch " + newEpoch.number(), e);
            }
            promotedAt = options.clock().instant();
            steps.done("VM running on " + node);
        } catch (OperatorException | RuntimeException e) {
            steps.failIfOpen(e.getMessage());
            throw e;
        } finally {
            steps.start(Step.UNLOCK);
            release(mutex, steps);
        }
        Duration rpo = Duration.ZERO;
        for (DevicePlan d : plan.devices()) {
            if (d.restore() != null) {
                Duration age = Duration.between(d.restore().takenAt(), promotedAt);
                if (age.compareTo(rpo) > 0) {
                    rpo = age;
                }
            }
        }
        // The RTO leaves out the operator's think time at the prompt.
        long rtoMillis = steps.done.stream().filter(r -> r.step() != Step.CONFIRM && r.step() != Step.UNLOCK).mapToLong(StepReport::millis).sum();
        TakeoverResult result = new TakeoverResult(plan.epoch(), newEpoch, plan.oldMain(), fenced, plan, rpo, Duration.ofMillis(rtoMillis), steps.done);
        LOG.info("{}", result);
        return result;
    }

    /**
     * Waits {@code options.oldVmWait()} from the epoch's move: the old main's VM keeper pauses its
     * VM at the latest one lease after that main's last proof of ownership, and every such proof
     * was taken before the move (docs/takeover.md, "The VM watchdog").
     */
    private void awaitOldVm(Steps steps, long advancedNanos, String oldMain) throws OperationFailedException {
        Duration wait = options.oldVmWait();
        if (wait.isZero()) {
            steps.start(Step.AWAIT_OLD_VM);
            steps.skipped("no wait configured");
            return;
        }
        steps.start(Step.AWAIT_OLD_VM, "waiting " + wait.toMillis() + " ms (the VM watchdog's lease and a tenth) for "
                + oldMain + "'s keeper to pause its VM");
        long left = advancedNanos + wait.toNanos() - System.nanoTime();
        try {
            if (left > 0) {
                TimeUnit.NANOSECONDS.sleep(left); // a fixed bound, not a poll
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            steps.failed("interrupted");
            throw new OperationFailedException("interrupted while waiting for the old main's VM watchdog; " + node
                    + " owns the new epoch and its agent waits the same bound before its VM starts", e);
        }
        steps.done("until " + wait.toMillis() + " ms after the epoch moved: by then " + oldMain + "'s VM is paused by its"
                + " keeper (its agent cannot prove it owns the old epoch), if its fence did not stop it first");
    }

    private TakeoverInput read() throws BadInputException, OperationFailedException {
        Epoch epoch = new EpochStore(client, layout).current().orElseThrow(() -> new BadInputException("instance " + layout.instance()
                + " has no epoch at " + layout.epochPath() + ": no main ever started there; check the instance name and zookeeper.connect"));
        return new TakeoverInput(node, epoch, Membership.list(client, layout), new ManifestCatalog(client, layout).list(),
                new ImporterStatusStore(client, layout).all(),
                new FencedNodes(client, layout).list().stream().map(FencedNode::node).collect(Collectors.toSet()), options.force(),
                options.failsafeAckFile().flatMap(FailsafeAck::read));
    }

    private void acquire(NamedMutex mutex, Steps steps) throws RefusedException, OperationFailedException {
        boolean acquired;
        try {
            acquired = mutex.acquire(options.lockTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) { // Curator declares Exception
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            steps.failed(String.valueOf(e.getMessage()));
            throw new OperationFailedException("cannot take the takeover lock at " + lockPath + ": " + e.getMessage()
                    + " (is ZooKeeper reachable? check zookeeper.connect)", e);
        }
        if (!acquired) {
            String holder = holder(mutex);
            steps.failed("held by " + holder);
            throw new RefusedException("another takeover is running (holder " + holder + ", lock " + lockPath + "): waited "
                    + options.lockTimeout().toMillis() + " ms; let it finish, then check 'bin/takeover status'");
        }
    }

    private String holder(InterProcessMutex mutex) {
        try {
            Collection<String> participants = mutex.getParticipantNodes();
            if (participants.isEmpty()) {
                return "unknown (it just released the lock)";
            }
            return new String(client.getData().forPath(participants.iterator().next()), StandardCharsets.UTF_8);
        } catch (Exception e) { // only for the message
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            return "unknown (" + e.getMessage() + ")";
        }
    }

    private void release(InterProcessMutex mutex, Steps steps) {
        try {
            mutex.release();
            steps.done("released");
        } catch (Exception e) { // the lock's node is ephemeral: it goes with the session at worst
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            LOG.warn("Could not release the takeover lock {}: {}", lockPath, e.getMessage());
            steps.failed("not released (" + e.getMessage() + "); it goes with this client's session");
        }
    }

    /** The mutex whose lock node carries the holder's node name, so a refused takeover can name it. */
    private static final class NamedMutex extends InterProcessMutex {
        private final byte[] name;

        NamedMutex(CuratorFramework client, String path, String node) {
            super(client, path);
            this.name = node.getBytes(StandardCharsets.UTF_8);
        }

        @Override
        protected byte[] getLockNodeBytes() {
            return name.clone();
        }
    }

    /** Times the steps and tells the listener. */
    private static final class Steps {
        private final StepListener listener;
        private final List<StepReport> done = new ArrayList<>();
        private Step current;
        private long startedNanos;

        Steps(StepListener listener) {
            this.listener = listener;
        }

        void start(Step step) {
            start(step, step.title());
        }

        void start(Step step, String detail) {
            current = step;
            startedNanos = System.nanoTime();
            tell(new StepReport(step, Status.STARTED, 0, detail));
        }

        void done(String detail) {
            end(Status.DONE, detail);
        }

        void failed(String detail) {
            end(Status.FAILED, detail == null ? "failed" : detail);
        }

        void skipped(String detail) {
            end(Status.SKIPPED, detail);
        }

        void failIfOpen(String detail) {
            if (current != null) {
                failed(detail);
            }
        }

        private void end(Status status, String detail) {
            StepReport r = new StepReport(current, status, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedNanos), detail);
            done.add(r);
            current = null;
            tell(r);
        }

        private void tell(StepReport r) {
            try {
                listener.step(r);
            } catch (RuntimeException e) {
                LOG.warn("step listener failed on {}", r, e);
            }
        }
    }
}

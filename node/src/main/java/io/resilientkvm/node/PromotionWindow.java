package io.resilientkvm.node;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.takeover.fencing.FailsafeAck;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a promoted clone waits out before its VM starts (docs/takeover.md, "Fail-safe mode",
 * the timing argument): its own fail-safe promise to the old main, if one still holds; then the
 * old main's session (until no member of an older epoch announces MAIN, at most one session
 * timeout: by then a main cut from ZooKeeper has lost its session); then one suspend bound,
 * within which a main that lost ZooKeeper without every clone's acknowledgement has fenced itself.
 */
final class PromotionWindow {
    private static final Logger LOG = LoggerFactory.getLogger(PromotionWindow.class);
    private static final long POLL_MS = 200;

    private PromotionWindow() {
    }

    /** Blocks (interruptibly: a fence interrupts the start) until the VM may start. */
    static Duration await(NodeContext ctx, Epoch epoch) throws OperationFailedException {
        long started = System.nanoTime();
        LongSupplier elapsedMs = () -> (System.nanoTime() - started) / 1_000_000;
        Optional<FailsafeAck> promise = FailsafeAck.read(FailsafeAck.file(ctx.config().layout()))
                .filter(p -> p.liveAt(Instant.now()));
        if (promise.isPresent()) {
            LOG.warn("Promotion to epoch {}: this node acknowledged {} until {}: waiting that out before the VM starts",
                    epoch.number(), promise.get().main(), promise.get().until());
            while (promise.get().liveAt(Instant.now())) {
                pause("the fail-safe promise to " + promise.get().main());
            }
        }
        Duration session = ctx.config().zookeeper().sessionTimeout();
        long sessionEnd = elapsedMs.getAsLong() + session.toMillis();
        Optional<String> oldMain;
        while ((oldMain = liveOldMain(ctx, epoch)).isPresent() && elapsedMs.getAsLong() < sessionEnd) {
            pause("the old main " + oldMain.get() + "'s session");
        }
        if (oldMain.isPresent()) {
            LOG.warn("Promotion to epoch {}: {} still announces MAIN of an older epoch after {} ms (its session timeout):"
                    + " its agent is frozen or cannot see the new epoch; going on after the suspend bound", epoch.number(),
                    oldMain.get(), session.toMillis());
        }
        long boundEnd = elapsedMs.getAsLong() + ctx.config().zookeeper().suspendBound().toMillis();
        LOG.info("Promotion to epoch {}: waiting {} ms (suspend bound) so that a main cut from ZooKeeper has fenced itself"
                + " before this VM starts", epoch.number(), ctx.config().zookeeper().suspendBound().toMillis());
        while (elapsedMs.getAsLong() < boundEnd) {
            pause("the suspend bound");
        }
        return Duration.ofMillis(elapsedMs.getAsLong());
    }

    private static Optional<String> liveOldMain(NodeContext ctx, Epoch epoch) {
        try {
            return Membership.list(ctx.client(), ctx.layout()).values().stream()
                    .filter(m -> m.role() == Role.MAIN && m.epoch() < epoch.number() && !m.node().equals(ctx.node()))
                    .map(MemberInfo::node).findFirst();
        } catch (OperationFailedException e) {
            LOG.warn("Promotion to epoch {}: cannot read the members ({}); waiting the session timeout out", epoch.number(),
                    e.getMessage());
            return Optional.of("unknown (members unreadable)");
        }
    }

    private static void pause(String what) throws OperationFailedException {
        try {
            Thread.sleep(POLL_MS); // a promotion's wait, bounded by its deadline; the fence interrupts it
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OperationFailedException("promotion interrupted while waiting out " + what, e);
        }
    }
}

package io.resilientkvm.node;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.takeover.fencing.FenceMarker;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import io.resilientkvm.takeover.protocol.FencedNodes;
import java.io.IOException;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A fenced node that comes back ({@code rejoin: automatic}, the default): once another node owns
 * a newer epoch and runs as its main, this one can only be a clone, so its agent clears its own
 * fence (the same checks as {@code bin/takeover clear-fence}) and imports from the new main. A
 * node fenced while it still owns the epoch (no clone took over) stays fenced for an operator.
 */
final class Rejoin {
    private static final Logger LOG = LoggerFactory.getLogger(Rejoin.class);

    private Rejoin() {
    }

    /** Clears this node's fence when it is safe; true when it may now start as a clone. */
    static boolean clearIfSafe(NodeContext ctx) throws OperatorException {
        if (!ctx.config().automaticRejoin()) {
            return false;
        }
        String node = ctx.node();
        Optional<Epoch> epoch = new EpochStore(ctx.client(), ctx.layout()).current();
        if (epoch.isEmpty() || epoch.get().owner().equals(node)) {
            LOG.warn("Node {} is fenced and {}: it stays fenced (no clone took over; see bin/takeover status)", node,
                    epoch.isEmpty() ? "no epoch exists" : "still owns epoch " + epoch.get().number());
            return false;
        }
        MemberInfo owner = Membership.list(ctx.client(), ctx.layout()).get(epoch.get().owner());
        if (owner == null || owner.role() != Role.MAIN || owner.epoch() != epoch.get().number()) {
            LOG.warn("Node {} is fenced; epoch {} belongs to {}, which does not run as its main yet: staying fenced until it"
                    + " does (restart this agent then, or clear the fence: bin/takeover clear-fence)", node,
                    epoch.get().number(), epoch.get().owner());
            return false;
        }
        new FencedNodes(ctx.client(), ctx.layout()).clear(node, false);
        FenceMarker marker = FenceMarker.of(ctx.config().layout());
        try {
            marker.clear();
        } catch (IOException e) {
            throw new OperationFailedException("cannot remove the fence marker " + marker.file() + " (" + e.getMessage()
                    + "); its fence in ZooKeeper is cleared: remove the file by hand, or run bin/takeover clear-fence", e);
        }
        LOG.warn("Node {} was fenced; {} is the main of epoch {} now: rejoining as its clone (rejoin: automatic; the old"
                + " disk stays where it was)", node, epoch.get().owner(), epoch.get().number());
        return true;
    }
}

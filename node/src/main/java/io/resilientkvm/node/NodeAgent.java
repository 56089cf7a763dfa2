package io.resilientkvm.node;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.takeover.fencing.FenceMarker;
import io.resilientkvm.takeover.fencing.FenceReason;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import io.resilientkvm.takeover.protocol.FencedNode;
import io.resilientkvm.takeover.protocol.FencedNodes;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plays one node's role in a resilient instance, as ZooKeeper says: the owner of the current
 * epoch is the main (VM, exporter, backup server), the others are clones (importer). A clone
 * whose name becomes the epoch's owner (a takeover) promotes itself; a main that sees a newer
 * epoch or loses its session fences itself and never starts a VM again on its own.
 */
public final class NodeAgent implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NodeAgent.class);
    private static final long REGISTER_TIMEOUT_MS = 15_000;

    private final NodeContext ctx;
    private final FenceMarker marker;
    private final EpochStore epochs;
    private final ExecutorService transitions;
    private final CuratorCache epochWatch;
    private final CompletableFuture<String> ended = new CompletableFuture<>();
    private final Membership membership;
    private volatile Role role;
    private MainRole main;
    private CloneRole clone;
    private boolean closed;

    private NodeAgent(NodeContext ctx, Membership membership) {
        this.ctx = ctx;
        this.membership = membership;
        this.marker = FenceMarker.of(ctx.config().layout());
        this.epochs = new EpochStore(ctx.client(), ctx.layout());
        this.transitions = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "node-agent-" + ctx.node());
            t.setDaemon(true);
            return t;
        });
        this.epochWatch = CuratorCache.build(ctx.client(), ctx.layout().epochPath(), CuratorCache.Options.SINGLE_NODE_CACHE);
    }

    /** Loads the node's configuration, joins the instance in ZooKeeper and starts its role. */
    public static NodeAgent start(NodeConfig config) throws OperatorException {
        if (!config.resilient()) {
            throw new BadInputException("software-type: the node agent runs resilient instances only; set \"software-type\":"
                    + " \"kvm-resilient\" in the node config, or run a plain VM with bin/kvm run");
        }
        NodeContext ctx = NodeContext.open(config);
        CuratorFramework client = ctx.client();
        ZkLayout layout = ctx.layout();
        try {
            // Announce FENCED from the first moment when fenced, so nobody mistakes it for a clone.
            boolean fenced = FenceMarker.of(config.layout()).isFenced()
                    || new FencedNodes(client, layout).isFenced(config.node());
            Membership membership = Membership.register(client, layout,
                    new MemberInfo(config.node(), fenced ? Role.FENCED : Role.CLONE, "", -1, Instant.now()), REGISTER_TIMEOUT_MS);
            NodeAgent agent = new NodeAgent(ctx, membership);
            agent.begin();
            return agent;
        } catch (OperatorException | RuntimeException e) {
            client.close();
            throw e;
        }
    }

    private void begin() throws OperatorException {
        Optional<FenceReason> fenced = marker.read().or(this::fencedInZooKeeper);
        if (fenced.isPresent()) {
            becomeFenced(fenced.get(), false);
            return;
        }
        Optional<Epoch> epoch = epochs.current();
        if (epoch.isEmpty() && ctx.resilient().mainNode().map(ctx.node()::equals).orElse(false)) {
            epoch = Optional.of(epochs.initialize(ctx.node()));
            LOG.info("Instance {} initialized: {} is the main of epoch 0 (-sla-0-computer_guid)", ctx.config().instance(), ctx.node());
        }
        if (epoch.isPresent() && epoch.get().owner().equals(ctx.node())) {
            boolean unfinished = Promotion.unfinished(ctx.config().layout(), epoch.get());
            if (unfinished) {
                LOG.warn("Epoch {} names this node {} the main but its promotion did not finish here (interrupted, or"
                        + " the agent was down at the takeover): restoring the disks before the VM starts",
                        epoch.get().number(), ctx.node());
            }
            startMain(epoch.get(), unfinished);
        } else {
            startClone();
        }
        epochWatch.listenable().addListener(CuratorCacheListener.builder()
                .forCreatesAndChanges((before, after) -> transitions.execute(this::epochChanged)).build());
        epochWatch.start();
    }

    /** A takeover marks the replaced main in ZooKeeper: it may have been down and never saw it. */
    private Optional<FenceReason> fencedInZooKeeper() {
        try {
            return new FencedNodes(ctx.client(), ctx.layout()).read(ctx.node()).map(FencedNode::reason);
        } catch (OperationFailedException e) { // when in doubt, do not start a VM
            return Optional.of(new FenceReason(ctx.node(), "cannot read the fenced state in ZooKeeper (" + e.getMessage() + ")",
                    -1, Instant.now()));
        }
    }

    /** The role this node plays now. */
    public Role role() {
        return role;
    }

    /** Completes with the reason when the agent stops playing a role (fenced, or closed). */
    public CompletableFuture<String> ended() {
        return ended;
    }

    private void epochChanged() {
        if (role != Role.CLONE) {
            return; // a main's fencing watcher reacts to a newer epoch; a fenced node waits for an operator
        }
        try {
            Optional<Epoch> epoch = epochs.current();
            if (epoch.isPresent() && epoch.get().owner().equals(ctx.node())) {
                LOG.warn("Epoch {} names this node {} the main: promoting", epoch.get().number(), ctx.node());
                closeClone();
                startMain(epoch.get(), true);
            }
        } catch (OperatorException | RuntimeException e) {
            LOG.error("Promotion of {} failed: {}", ctx.node(), e.getMessage(), e);
            becomeFenced(new FenceReason(ctx.node(), "promotion failed: " + e.getMessage(), -1, Instant.now()), true);
        }
    }

    private synchronized void startMain(Epoch epoch, boolean promoted) throws OperatorException {
        main = MainRole.start(ctx, epoch, promoted, this::fencedByWatcher, marker);
        role = Role.MAIN;
        membership.update(new MemberInfo(ctx.node(), Role.MAIN, main.serverAddress(), epoch.number(), Instant.now()));
        LOG.info("Node {} is the main of epoch {}: VM running, backups to {}", ctx.node(), epoch.number(), main.serverAddress());
    }

    private synchronized void startClone() throws OperatorException {
        clone = CloneRole.start(ctx, Retention.forClone(ctx));
        role = Role.CLONE;
        membership.update(new MemberInfo(ctx.node(), Role.CLONE, "", epochs.current().map(Epoch::number).orElse(-1L),
                Instant.now()));
        LOG.info("Node {} is a clone: importing into {}", ctx.node(), ctx.config().layout().backupRepository());
    }

    /** Called by the fencing watcher (its own thread): stop everything now, then announce it. */
    private void fencedByWatcher(FenceReason reason) {
        LOG.error("FENCED: {}", reason);
        MainRole m;
        synchronized (this) {
            m = main;
            main = null;
            role = Role.FENCED;
        }
        if (m != null) {
            m.stopNow();
        }
        transitions.execute(() -> becomeFenced(reason, false));
    }

    private void becomeFenced(FenceReason reason, boolean writeMarker) {
        synchronized (this) {
            role = Role.FENCED;
            closeClone();
            if (main != null) {
                main.stopNow();
                main = null;
            }
        }
        if (writeMarker) {
            try {
                marker.write(reason);
            } catch (java.io.IOException e) {
                LOG.error("Cannot write the fence marker {}: {}", marker.file(), e.getMessage());
            }
        }
        try {
            membership.update(new MemberInfo(ctx.node(), Role.FENCED, "", reason.epoch(), Instant.now()));
        } catch (OperationFailedException e) {
            LOG.warn("Cannot announce the fenced state: {}", e.getMessage());
        }
        LOG.error("Node {} is fenced ({}); it starts no VM until an operator clears it: bin/takeover clear-fence --config ...",
                ctx.node(), reason.why());
        ended.complete("fenced: " + reason.why());
    }

    private synchronized void closeClone() {
        if (clone != null) {
            clone.close();
            clone = null;
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        epochWatch.close();
        transitions.shutdownNow();
        try {
            transitions.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            closeClone();
            if (main != null) {
                main.close();
                main = null;
            }
        }
        membership.close();
        ctx.client().close();
        ended.complete("stopped by its owner");
    }
}

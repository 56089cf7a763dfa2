package io.resilientkvm.node;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.Outcome;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.lifecycle.ComponentStack;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.node.peer.PeerChannelServer;
import io.resilientkvm.node.peer.PeerChannelSettings;
import io.resilientkvm.takeover.fencing.AckChannel;
import io.resilientkvm.takeover.fencing.FailsafeAcknowledger;
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
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plays one node's role in a resilient instance, as ZooKeeper says: the owner of the current
 * epoch is the main (VM, exporter, backup server), the others are clones (importer). A clone
 * whose name becomes the epoch's owner (a takeover) promotes itself; a main that sees a newer
 * epoch or loses its session fences itself and never starts a VM again on its own.
 *
 * <p>Its parts form one {@link ComponentStack}: the ZooKeeper session, the member znode, its two
 * threads (role changes; fence clean-up), the current role, the epoch watch; a start that fails
 * part-way closes what started, {@link #close()} stops them in reverse. Role changes run one at a
 * time on the role thread; the fence runs on the fencing watcher's thread and never waits for
 * them: the fields below are swapped under {@link #roles}, a lock no start or close is run under.
 */
public final class NodeAgent implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(NodeAgent.class);
    private static final long REGISTER_TIMEOUT_MS = 15_000;
    private static final long THREAD_STOP_SECONDS = 30;

    private final NodeContext ctx;
    private final Membership membership;
    private final ComponentStack parts;
    private final MainRole.DiskRestore restore;
    private final FenceMarker marker;
    private final EpochStore epochs;
    /** Role changes (promotion), one at a time. */
    private final ExecutorService transitions;
    /** A fenced main's clean-up, beside a start that may still run on {@link #transitions}. */
    private final ExecutorService fences;
    private final CuratorCache epochWatch;
    private final LifecycleState lifecycle;
    private final CompletableFuture<Outcome> ended = new CompletableFuture<>();
    /** Guards main, clone and the writes of role and of the member znode; held for no longer than that. */
    private final Object roles = new Object();
    private volatile Role role;
    private MainRole main;
    private CloneRole clone;
    /** The newest epoch this agent read: a fail-safe acknowledgement answers from it (ZooKeeper may be out of reach). */
    private volatile Epoch known;
    /** Set once this clone saw itself named the owner: it acknowledges no other main from then on. */
    private volatile boolean promoting;
    /** Fail-safe mode's channel to the clones, when on; set before the first role starts. */
    private Optional<AckChannel> acks = Optional.empty();

    private NodeAgent(NodeContext ctx, Membership membership, ComponentStack parts, MainRole.DiskRestore restore) {
        this.ctx = ctx;
        this.membership = membership;
        this.parts = parts;
        this.restore = restore;
        this.role = membership.info().role();
        this.marker = FenceMarker.of(ctx.config().layout());
        this.epochs = new EpochStore(ctx.client(), ctx.layout());
        this.transitions = Executors.newSingleThreadExecutor(r -> daemon(r, "node-agent-" + ctx.node()));
        this.fences = Executors.newSingleThreadExecutor(r -> daemon(r, "node-fence-" + ctx.node()));
        this.epochWatch = CuratorCache.build(ctx.client(), ctx.layout().epochPath(), CuratorCache.Options.SINGLE_NODE_CACHE);
        this.lifecycle = new LifecycleState("node agent " + ctx.node());
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Loads the node's configuration, joins the instance in ZooKeeper and starts its role. */
    public static NodeAgent start(NodeConfig config) throws OperatorException {
        return start(config, Promotion::restoreDisks);
    }

    /** As {@link #start(NodeConfig)}, with the promoted clone's disk restore given (tests slow it down). */
    static NodeAgent start(NodeConfig config, MainRole.DiskRestore restore) throws OperatorException {
        if (!config.resilient()) {
            throw new BadInputException("software-type: the node agent runs resilient instances only; set \"software-type\":"
                    + " \"kvm-resilient\" in the node config, or run a plain VM with bin/kvm run");
        }
        Optional<PeerChannelSettings> channel = PeerChannelSettings.of(config); // bad input before anything starts
        ComponentStack parts = new ComponentStack("node agent " + config.node());
        try {
            NodeContext ctx = NodeContext.open(config);
            parts.add("ZooKeeper session", ctx.client());
            // Announce FENCED from the first moment when fenced, so nobody mistakes it for a clone.
            boolean fenced = (FenceMarker.of(config.layout()).isFenced()
                    || new FencedNodes(ctx.client(), ctx.layout()).isFenced(config.node())) && !Rejoin.clearIfSafe(ctx);
            Membership membership = parts.start("member znode", () -> Membership.register(ctx.client(), ctx.layout(),
                    new MemberInfo(config.node(), fenced ? Role.FENCED : Role.CLONE, "", -1, Instant.now()),
                    REGISTER_TIMEOUT_MS));
            Optional<PeerChannelServer> server = Optional.empty();
            if (channel.isPresent()) { // for as long as the agent runs, whatever its role
                server = Optional.of(parts.start("peer channel",
                        () -> PeerChannelServer.start(channel.get(), new AgentPeerView(config, membership))));
            }
            NodeAgent agent = new NodeAgent(ctx, membership, parts, restore);
            if (server.isPresent()) { // fail-safe mode: docs/takeover.md
                agent.acks = FailsafeChannel.start(parts, config, channel.get(), server.get(), agent::failsafeView);
            }
            parts.add("agent threads", agent::stopThreads);
            parts.add("role", agent::closeRole);
            agent.begin();
            agent.lifecycle.markStarted();
            return agent;
        } catch (OperatorException | RuntimeException e) {
            parts.close();
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
        known = epoch.orElse(null);
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
        parts.start("epoch watch", () -> {
            epochWatch.start();
            return epochWatch;
        });
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

    /** What this agent knows now, for its fail-safe acknowledgements (docs/takeover.md). */
    FailsafeAcknowledger.View failsafeView() {
        Epoch k = known;
        return new FailsafeAcknowledger.View(role == Role.CLONE && !promoting, k == null ? -1 : k.number(),
                k == null ? "" : k.owner());
    }

    /** The role this node plays now. */
    public Role role() {
        return role;
    }

    /** Completes when the agent stops playing a role: refused when fenced, done when closed, with the reason. */
    public CompletableFuture<Outcome> ended() {
        return ended;
    }

    private void epochChanged() {
        if (lifecycle.isClosed() || role != Role.CLONE) {
            return; // a main's fencing watcher reacts to a newer epoch; a fenced node waits for an operator
        }
        try {
            Optional<Epoch> epoch = epochs.current();
            epoch.ifPresent(e -> known = e);
            if (epoch.isPresent() && epoch.get().owner().equals(ctx.node())) {
                promoting = true;
                LOG.warn("Epoch {} names this node {} the main: promoting", epoch.get().number(), ctx.node());
                closeClone();
                startMain(epoch.get(), true);
            }
        } catch (OperatorException | RuntimeException e) {
            LOG.error("Promotion of {} failed: {}", ctx.node(), e.getMessage(), e);
            becomeFenced(new FenceReason(ctx.node(), "promotion failed: " + e.getMessage(), -1, Instant.now()), true);
        }
    }

    /**
     * Starts the main role. The role is registered before it starts, so that a fence (or a close)
     * can stop it while it starts; no lock is held while it starts. A start stopped that way is
     * not a failure: the fence path records it.
     */
    private void startMain(Epoch epoch, boolean promoted) throws OperatorException {
        MainRole m = new MainRole(ctx, epoch, promoted, this::fencedByWatcher, marker, restore, acks);
        synchronized (roles) {
            if (lifecycle.isClosed() || role == Role.FENCED) {
                return;
            }
            main = m;
        }
        try {
            m.start();
        } catch (OperatorException | RuntimeException e) {
            synchronized (roles) {
                if (main != m) { // taken by the fence or the close, which stopped it
                    LOG.warn("The main role of epoch {} was stopped while it started: {}", epoch.number(), e.getMessage());
                    return;
                }
                main = null;
            }
            throw e;
        }
        synchronized (roles) {
            if (main != m) {
                LOG.warn("The main role of epoch {} was stopped as it finished starting", epoch.number());
                return;
            }
            role = Role.MAIN;
            // Under the lock, so that a fence's FENCED is always written after this MAIN (both are background writes).
            announce(new MemberInfo(ctx.node(), Role.MAIN, m.serverAddress(), epoch.number(), Instant.now(),
                    m.backupSchedule()));
        }
        LOG.info("Node {} is the main of epoch {}: VM running, backups to {}", ctx.node(), epoch.number(), m.serverAddress());
    }

    private void startClone() throws OperatorException {
        long epoch = epochs.current().map(Epoch::number).orElse(-1L);
        CloneRole c = CloneRole.start(ctx, Retention.forClone(ctx));
        synchronized (roles) {
            if (!lifecycle.isClosed() && role != Role.FENCED) {
                clone = c;
                role = Role.CLONE;
                announce(new MemberInfo(ctx.node(), Role.CLONE, "", epoch, Instant.now()));
                c = null;
            }
        }
        if (c != null) {
            c.close(); // the agent stopped meanwhile
            return;
        }
        LOG.info("Node {} is a clone: importing into {}", ctx.node(), ctx.config().layout().backupRepository());
    }

    /**
     * Called by the fencing watcher (its own thread), perhaps while the main role still starts on
     * the role thread: records the fence at once, stops the VM now, and leaves the rest of the
     * clean-up to the fence thread. It takes no lock a start holds.
     */
    private void fencedByWatcher(FenceReason reason) {
        LOG.error("FENCED: {}", reason);
        MainRole m;
        synchronized (roles) {
            m = main;
            main = null;
            role = Role.FENCED;
            announce(new MemberInfo(ctx.node(), Role.FENCED, "", reason.epoch(), Instant.now()));
        }
        if (m != null) {
            m.fence();
        }
        try {
            fences.execute(() -> {
                if (m != null) {
                    m.close();
                }
                becomeFenced(reason, false);
            });
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            LOG.warn("Node {} is shutting down: its close stops the rest of the fenced main", ctx.node());
        }
    }

    private void becomeFenced(FenceReason reason, boolean writeMarker) {
        if (writeMarker) {
            try {
                marker.write(reason);
            } catch (java.io.IOException e) {
                LOG.error("Cannot write the fence marker {}: {}", marker.file(), e.getMessage());
            }
        }
        synchronized (roles) {
            role = Role.FENCED;
            announce(new MemberInfo(ctx.node(), Role.FENCED, "", reason.epoch(), Instant.now()));
        }
        closeRole();
        LOG.error("Node {} is fenced ({}); it starts no VM until an operator clears it: bin/takeover clear-fence --config ...",
                ctx.node(), reason.why());
        ended.complete(Outcome.refused("fenced: " + reason.why()));
    }

    /** A background write of the member znode; the caller holds {@link #roles}, so writes keep their order. */
    private void announce(MemberInfo info) {
        try {
            membership.update(info);
        } catch (OperationFailedException e) {
            LOG.warn("Cannot announce {} for {}: {}", info.role(), ctx.node(), e.getMessage());
        }
    }

    private void closeClone() {
        CloneRole c;
        synchronized (roles) {
            c = clone;
            clone = null;
        }
        if (c != null) {
            c.close();
        }
    }

    /** Stops the current role, whichever it is (a main still starting included). */
    private void closeRole() {
        MainRole m;
        synchronized (roles) {
            m = main;
            main = null;
        }
        closeClone();
        if (m != null) {
            m.close();
        }
    }

    private void stopThreads() {
        transitions.shutdownNow();
        fences.shutdownNow();
        try {
            if (!transitions.awaitTermination(THREAD_STOP_SECONDS, TimeUnit.SECONDS)
                    || !fences.awaitTermination(THREAD_STOP_SECONDS, TimeUnit.SECONDS)) {
                LOG.warn("Node {}: a role change still runs {} s after close", ctx.node(), THREAD_STOP_SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Stops the epoch watch, the role (a start in progress is interrupted and closes what it
     * started), the agent's threads, the member znode and the session, in that order.
     */
    @Override
    public void close() {
        if (!lifecycle.markClosed()) {
            return;
        }
        parts.close();
        ended.complete(Outcome.done("stopped by its owner"));
    }
}

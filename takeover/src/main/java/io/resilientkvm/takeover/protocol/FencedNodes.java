package io.resilientkvm.takeover.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.takeover.fencing.FenceReason;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fenced nodes of an instance ({@code fenced/NODE}): a node listed here must not start a
 * VM. A takeover marks the old main under the new epoch; a main that fences itself announces
 * it here too (its local {@code FenceMarker} is what binds it). An operator lists, reads and
 * clears them; a cleared node may rejoin as a clone.
 */
public final class FencedNodes {
    public static final int FORMAT_VERSION = 1;
    private static final Logger LOG = LoggerFactory.getLogger(FencedNodes.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final CuratorFramework client;
    private final ZkLayout layout;
    private final EpochStore epochs;

    public FencedNodes(CuratorFramework client, ZkLayout layout) {
        this.client = client;
        this.layout = layout;
        this.epochs = new EpochStore(client, layout);
    }

    private String fencedRoot() {
        String p = layout.fencedPath("x");
        return p.substring(0, p.length() - 2);
    }

    /** Every fenced node, by name. */
    public List<FencedNode> list() throws OperationFailedException {
        List<FencedNode> all = new ArrayList<>();
        List<String> children;
        try {
            children = client.getChildren().forPath(fencedRoot()).stream().sorted().toList();
        } catch (KeeperException.NoNodeException none) {
            return all;
        } catch (Exception e) { // Curator declares Exception
            throw failure("list " + fencedRoot(), e);
        }
        for (String child : children) {
            try {
                read(child).ifPresent(all::add);
            } catch (IllegalArgumentException badName) {
                LOG.warn("Ignoring {}/{}: {}", fencedRoot(), child, badName.getMessage());
            }
        }
        return all;
    }

    /** The fenced state of {@code node}, or empty when it is not fenced. */
    public Optional<FencedNode> read(String node) throws OperationFailedException {
        String path = layout.fencedPath(node);
        try {
            Stat stat = new Stat();
            byte[] data = client.getData().storingStatIn(stat).forPath(path);
            return Optional.of(decode(node, data, stat));
        } catch (KeeperException.NoNodeException none) {
            return Optional.empty();
        } catch (Exception e) {
            throw failure("read " + path, e);
        }
    }

    public boolean isFenced(String node) throws OperationFailedException {
        return read(node).isPresent();
    }

    /**
     * Marks {@code reason.node()} fenced, by {@code by}, in one transaction conditioned on the
     * epoch {@code mine}: only the current main can fence another node this way.
     */
    public void mark(Epoch mine, String by, FenceReason reason) throws RefusedException, OperationFailedException {
        String path = layout.fencedPath(reason.node());
        byte[] data = encode(reason, by);
        // Two tries: the old main may announce its own fence between our look and our write.
        for (int attempt = 1; ; attempt++) {
            try {
                client.create().orSetData().creatingParentsIfNeeded().forPath(fencedRoot()); // an empty folder: harmless outside the epoch check
                CuratorOp op = client.checkExists().forPath(path) == null
                        ? client.transactionOp().create().forPath(path, data)
                        : client.transactionOp().setData().forPath(path, data);
                epochs.writeUnderEpoch(mine, List.of(op));
                break;
            } catch (OperationFailedException e) {
                boolean raced = e.getCause() instanceof KeeperException.NodeExistsException
                        || e.getCause() instanceof KeeperException.NoNodeException;
                if (!raced || attempt == 2) {
                    throw e;
                }
            } catch (RefusedException e) {
                throw e;
            } catch (Exception e) {
                throw failure("mark " + reason.node() + " fenced at " + path, e);
            }
        }
        LOG.warn("Marked {} fenced under epoch {}: {}", reason.node(), mine.number(), reason.why());
    }

    /**
     * Clears {@code node}'s fenced state so it may rejoin as a clone. Refused while it claims the
     * main role as a live member (stop its agent first), and while it still owns the current epoch
     * unless {@code evenIfOwner}: then no clone took over, and clearing lets it resume as the main
     * on its own disks, which is right only when the operator knows no VM of this instance runs
     * elsewhere. The delete is conditioned on the epoch and the mark being unchanged since read.
     *
     * @return what was cleared, or empty when the node was not fenced
     */
    public Optional<FencedNode> clear(String node, boolean evenIfOwner) throws RefusedException, OperationFailedException {
        Optional<FencedNode> fenced = read(node);
        if (fenced.isEmpty()) {
            return fenced;
        }
        Optional<Epoch> epoch = epochs.current();
        MemberInfo member = Membership.list(client, layout).get(node);
        if (member != null && member.role() == Role.MAIN) {
            throw new RefusedException("node " + node + " is fenced but its running agent still announces the main role (epoch "
                    + member.epoch() + "): stop its agent and VM first, then clear the fence");
        }
        if (epoch.isPresent() && epoch.get().owner().equals(node) && !evenIfOwner) {
            throw new RefusedException("node " + node + " still owns the current epoch " + epoch.get().number()
                    + " (no clone took over): clearing its fence would let it run as the main again. Promote a clone with"
                    + " 'bin/takeover' on it, or, if you know no VM of this instance runs anywhere else and want " + node
                    + " to resume as main on its own disks, clear it with --force");
        }
        String path = layout.fencedPath(node);
        try {
            // Own transaction rather than writeUnderEpoch: both ops can fail with BADVERSION and
            // the operator needs to know which one changed.
            List<CuratorOp> ops = new ArrayList<>();
            if (epoch.isPresent()) {
                ops.add(client.transactionOp().check().withVersion(epoch.get().version()).forPath(layout.epochPath()));
            }
            ops.add(client.transactionOp().delete().withVersion(fenced.get().version()).forPath(path));
            client.transaction().forOperations(ops);
        } catch (KeeperException.BadVersionException | KeeperException.NoNodeException e) {
            boolean epochMoved = epoch.isPresent() && !epoch.equals(epochs.current());
            throw new RefusedException((epochMoved ? "the epoch moved on" : "the fence of " + node + " changed")
                    + " while clearing it: look again with 'bin/takeover status' and clear again if still right", e);
        } catch (Exception e) {
            throw failure("clear " + path, e);
        }
        LOG.warn("Cleared the fence of {} (was: {})", node, fenced.get().reason().why());
        return fenced;
    }

    static byte[] encode(FenceReason reason, String by) {
        return JSON.createObjectNode()
                .put("format-version", FORMAT_VERSION)
                .put("node", reason.node())
                .put("why", reason.why())
                .put("epoch", reason.epoch())
                .put("at", reason.at().toString())
                .put("by", by)
                .toString().getBytes(StandardCharsets.UTF_8);
    }

    /** JSON written here, or the plain sentence a self-fencing main announces; never unreadable. */
    static FencedNode decode(String node, byte[] data, Stat stat) {
        String text = data == null ? "" : new String(data, StandardCharsets.UTF_8);
        Instant created = Instant.ofEpochMilli(stat.getMtime());
        try {
            JsonNode n = JSON.readTree(text);
            if (n != null && n.isObject()) {
                int format = n.path("format-version").asInt(-1);
                if (format != FORMAT_VERSION) {
                    return new FencedNode(node, new FenceReason(node, "fence mark has format-version " + format
                            + " (written by a newer version?): " + text, -1, created), "?", stat.getVersion());
                }
                return new FencedNode(node, new FenceReason(node, n.path("why").asText("?"), n.path("epoch").asLong(-1),
                        Instant.parse(n.path("at").asText(created.toString()))), n.path("by").asText(node), stat.getVersion());
            }
        } catch (IOException | RuntimeException notJson) {
            // the self-fencing main writes a sentence: keep it as the reason
        }
        return new FencedNode(node, new FenceReason(node, text.isBlank() ? "(no reason given)" : text, -1, created), node, stat.getVersion());
    }

    private OperationFailedException failure(String what, Exception e) {
        if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
        }
        return new OperationFailedException("ZooKeeper: cannot " + what + ": " + e.getMessage()
                + " (is ZooKeeper reachable? check zookeeper.connect in the node config)", e);
    }
}

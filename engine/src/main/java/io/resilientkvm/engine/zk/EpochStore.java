package io.resilientkvm.engine.zk;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
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
 * Reads and moves the instance's epoch, and makes writes conditional on it. A main's every
 * write goes through {@link #writeUnderEpoch}: a ZooKeeper transaction that first checks the
 * epoch node's version, so a main that was replaced (even one frozen past its session and
 * silently reconnected by Curator) is refused.
 */
public final class EpochStore {
    private static final Logger LOG = LoggerFactory.getLogger(EpochStore.class);
    public static final int FORMAT_VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final CuratorFramework client;
    private final ZkLayout layout;

    public EpochStore(CuratorFramework client, ZkLayout layout) {
        this.client = client;
        this.layout = layout;
    }

    /** The current epoch, or empty when the instance was never initialized. */
    public Optional<Epoch> current() throws OperationFailedException {
        try {
            Stat stat = new Stat();
            byte[] data = client.getData().storingStatIn(stat).forPath(layout.epochPath());
            return Optional.of(decode(data, stat.getVersion()));
        } catch (KeeperException.NoNodeException e) {
            return Optional.empty();
        } catch (Exception e) { // Curator's API declares Exception
            throw failure("read the epoch", e);
        }
    }

    /** Creates epoch 0 owned by {@code owner} if the instance has none; returns the current one. */
    public Epoch initialize(String owner) throws OperationFailedException {
        Optional<Epoch> now = current();
        if (now.isPresent()) {
            return now.get();
        }
        try {
            client.create().creatingParentContainersIfNeeded().forPath(layout.epochPath(), encode(0, owner, Instant.now()));
        } catch (KeeperException.NodeExistsException raced) {
            // another node initialized it first: use theirs
        } catch (Exception e) {
            throw failure("initialize the epoch", e);
        }
        return current().orElseThrow(() -> new OperationFailedException("epoch node vanished after creation at " + layout.epochPath()));
    }

    /**
     * Moves the epoch from {@code expected} to {@code expected.number() + 1} owned by
     * {@code newOwner}, only if nobody moved it meanwhile; otherwise refuses.
     */
    public Epoch advance(Epoch expected, String newOwner) throws RefusedException, OperationFailedException {
        return advance(expected, newOwner, Instant.now());
    }

    /**
     * {@link #advance(Epoch, String)} stamped {@code now}. Curator retries a write whose answer
     * was lost with the connection; when the first attempt had been applied, the retry finds the
     * version moved (seen on the bed: "another takeover won" while node-b owned the new epoch, and
     * no main ran). So a moved version that holds exactly this write (number, owner and stamp, one
     * version on) is this write's success, not another takeover's.
     */
    Epoch advance(Epoch expected, String newOwner, Instant now) throws RefusedException, OperationFailedException {
        byte[] data = encode(expected.number() + 1, newOwner, now);
        try {
            Stat stat = client.setData().withVersion(expected.version()).forPath(layout.epochPath(), data);
            return new Epoch(expected.number() + 1, newOwner, now, stat.getVersion());
        } catch (KeeperException.BadVersionException e) {
            Optional<Epoch> applied;
            try {
                applied = ownWrite(expected, data);
            } catch (Exception r) { // Curator declares Exception
                throw failure("read the epoch after its compare-and-set was refused", r);
            }
            if (applied.isPresent()) {
                return applied.get();
            }
            throw new RefusedException("the epoch moved on while this node tried to take over (expected epoch "
                    + expected.number() + " owned by " + expected.owner() + "): another takeover won; check 'bin/takeover status'");
        } catch (Exception e) {
            throw failure("advance the epoch", e);
        }
    }

    /** The epoch node as {@code data} left it, one version after {@code expected}: this write, applied. */
    private Optional<Epoch> ownWrite(Epoch expected, byte[] data) throws Exception {
        Stat stat = new Stat();
        byte[] now = client.getData().storingStatIn(stat).forPath(layout.epochPath());
        if (stat.getVersion() == expected.version() + 1 && java.util.Arrays.equals(now, data)) {
            LOG.info("epoch {}: the write was applied before its answer was lost; the retry found it", expected.number() + 1);
            return Optional.of(decode(now, stat.getVersion()));
        }
        return Optional.empty();
    }

    /**
     * Runs {@code ops} in one transaction that first checks the epoch is still {@code mine}.
     * Refused (exit 3) when the epoch moved on: this node is no longer the main.
     */
    public void writeUnderEpoch(Epoch mine, List<CuratorOp> ops) throws RefusedException, OperationFailedException {
        List<CuratorOp> all = new ArrayList<>(ops.size() + 1);
        try {
            all.add(client.transactionOp().check().withVersion(mine.version()).forPath(layout.epochPath()));
            all.addAll(ops);
            client.transaction().forOperations(all);
        } catch (KeeperException.BadVersionException e) {
            throw new RefusedException("epoch " + mine.number() + " is no longer current: this node was replaced as main; its write was refused");
        } catch (Exception e) {
            throw failure("write under epoch " + mine.number(), e);
        }
    }

    static byte[] encode(long number, String owner, Instant since) {
        ObjectNode node = JSON.createObjectNode()
                .put("format-version", FORMAT_VERSION)
                .put("epoch", number)
                .put("owner", owner)
                .put("since", since.toString());
        return node.toString().getBytes(StandardCharsets.UTF_8);
    }

    static Epoch decode(byte[] data, int version) throws IOException {
        JsonNode node = JSON.readTree(data);
        int format = node.path("format-version").asInt(-1);
        if (format != FORMAT_VERSION) {
            throw new IOException("epoch node has format-version " + format + "; this version reads " + FORMAT_VERSION
                    + " (a newer resilient-kvm wrote it? upgrade this node)");
        }
        return new Epoch(node.path("epoch").asLong(), node.path("owner").asText(), Instant.parse(node.path("since").asText()), version);
    }

    private OperationFailedException failure(String what, Exception e) {
        if (e instanceof InterruptedException) {
            Thread.currentThread().interrupt();
        }
        return new OperationFailedException("cannot " + what + " at " + layout.epochPath() + ": " + e.getMessage(), e);
    }
}

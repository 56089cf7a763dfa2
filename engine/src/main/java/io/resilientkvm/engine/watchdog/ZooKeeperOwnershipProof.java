package io.resilientkvm.engine.watchdog;

import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ZkLayout;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ownership proven by ZooKeeper: a {@code sync} of the epoch node and then a read of it that finds
 * the version this main owns. The sync makes the server this session talks to catch up with the
 * leader, so the read sees every epoch write committed before the sync reached the leader, and so
 * every takeover's write that the proof does not see committed after the proof's time, which is
 * taken before the sync is sent.
 */
public final class ZooKeeperOwnershipProof implements OwnershipProof {
    private static final Logger LOG = LoggerFactory.getLogger(ZooKeeperOwnershipProof.class);

    private final CuratorFramework client;
    private final String epochPath;
    private final Epoch mine;
    private final Duration timeout;

    /** Proves that the epoch node still holds {@code mine}'s version; each step bounded by {@code timeout}. */
    public ZooKeeperOwnershipProof(CuratorFramework client, ZkLayout layout, Epoch mine, Duration timeout) {
        this.client = client;
        this.epochPath = layout.epochPath();
        this.mine = mine;
        this.timeout = timeout;
    }

    /**
     * No answer to the sync on a connection the client still counts up: its server went silent
     * (its host cut, or hung). The ZooKeeper client would notice only after its read timeout, 2/3
     * of the session (10 s with the defaults, longer than a lease): the VM keeper would pause the
     * VM first, seen on the bed when a clone's host with the main's server was cut. Closing the
     * socket moves the client to another server now, on the same session (Curator itself uses the
     * client's Testable, to inject a session expiry).
     */
    private void leaveSilentServer() {
        try {
            if (client.getZookeeperClient().isConnected()) {
                LOG.warn("ZooKeeper: no answer to a sync within {} ms on a connection the client counts up: closing it, so"
                        + " that the client moves to another server now rather than after its read timeout", timeout.toMillis());
                client.getZookeeperClient().getZooKeeper().getTestable().closeSocket();
            }
        } catch (Exception e) { // Curator declares Exception; the read timeout still ends the connection
            LOG.debug("ZooKeeper: closing a silent connection failed: {}", e.getMessage());
        }
    }

    @Override
    public OptionalLong prove() throws InterruptedException {
        long proofTime = LeaseClock.nanos(); // before the sync is sent: see the class comment
        long deadline = System.nanoTime() + timeout.toNanos(); // the sync and the read together
        try {
            CuratorEvent synced = await(cb -> client.sync().inBackground(cb).forPath(epochPath), deadline);
            if (synced == null) {
                LOG.debug("epoch {}: no sync within {} ms", mine.number(), timeout.toMillis());
                leaveSilentServer();
                return OptionalLong.empty();
            }
            if (synced.getResultCode() != KeeperException.Code.OK.intValue()) {
                LOG.debug("epoch {}: sync failed with {}", mine.number(), KeeperException.Code.get(synced.getResultCode()));
                return OptionalLong.empty();
            }
            // In the background too: a foreground read on a connection that just went silent waits out
            // Curator's retries (seen on the bed: no proof for a whole 8 s lease after a sync that passed).
            CuratorEvent read = await(cb -> client.checkExists().inBackground(cb).forPath(epochPath), deadline);
            if (read == null) {
                LOG.debug("epoch {}: no answer to the read within {} ms", mine.number(), timeout.toMillis());
                leaveSilentServer();
                return OptionalLong.empty();
            }
            Stat stat = read.getStat();
            if (read.getResultCode() != KeeperException.Code.OK.intValue() && read.getResultCode() != KeeperException.Code.NONODE.intValue()) {
                LOG.debug("epoch {}: read failed with {}", mine.number(), KeeperException.Code.get(read.getResultCode()));
                return OptionalLong.empty();
            }
            if (stat == null || stat.getVersion() != mine.version()) {
                LOG.warn("Epoch {} is no longer this node's ({}): not renewing the VM's lease", mine.number(),
                        stat == null ? "the epoch node is gone" : "version " + stat.getVersion() + ", this main owns " + mine.version());
                return OptionalLong.empty();
            }
            return OptionalLong.of(proofTime);
        } catch (InterruptedException e) {
            throw e;
        } catch (Exception e) { // Curator declares Exception
            LOG.debug("epoch {}: proof failed: {}", mine.number(), e.getMessage());
            return OptionalLong.empty();
        }
    }

    /** Starts one background operation with {@code callback}. */
    @FunctionalInterface
    private interface Background {
        void start(org.apache.curator.framework.api.BackgroundCallback callback) throws Exception;
    }

    /** The background operation's event, or null at {@code deadline} (System.nanoTime). */
    private static CuratorEvent await(Background op, long deadline) throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<CuratorEvent> event = new AtomicReference<>();
        op.start((c, e) -> {
            event.set(e);
            done.countDown();
        });
        long left = deadline - System.nanoTime();
        return left > 0 && done.await(left, TimeUnit.NANOSECONDS) ? event.get() : null;
    }
}

package io.resilientkvm.engine.watchdog;

import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ZkLayout;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
        CountDownLatch synced = new CountDownLatch(1);
        AtomicInteger rc = new AtomicInteger(Integer.MIN_VALUE);
        try {
            client.sync().inBackground((c, event) -> {
                rc.set(event.getResultCode());
                synced.countDown();
            }).forPath(epochPath);
            if (!synced.await(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                LOG.debug("epoch {}: no sync within {} ms", mine.number(), timeout.toMillis());
                leaveSilentServer();
                return OptionalLong.empty();
            }
            if (rc.get() != KeeperException.Code.OK.intValue()) {
                LOG.debug("epoch {}: sync failed with {}", mine.number(), KeeperException.Code.get(rc.get()));
                return OptionalLong.empty();
            }
            Stat stat = client.checkExists().forPath(epochPath);
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
}

package io.resilientkvm.exporter.lock;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.lifecycle.LifecycleState;
import io.resilientkvm.exporter.schedule.BackupRunner;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.api.CuratorEvent;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.StandardLockInternalsDriver;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.framework.state.ConnectionStateListener;
import org.apache.zookeeper.KeeperException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One exporter per instance across the cluster: a Curator {@link InterProcessMutex} at
 * {@code ZkLayout.exporterLockPath()}, taken besides the repository's file lock when the node runs
 * clustered (the file lock only sees exporters on the same file system). The lock node's data
 * names the holder (node, pid, host, since), so a refused exporter can say who holds it. The
 * client is the caller's (except with {@link #forNode}); closing releases the mutex.
 *
 * <p>Holding the mutex is only as good as the session (Curator's connection-state policy, see
 * DESIGN.md): while the connection is SUSPENDED the lock is not {@link #isOwned() owned} and no
 * backup may start ({@link #guard} makes a runner wait, then refuse); LOST gives it up for good;
 * RECONNECTED re-verifies (our lock node still exists and belongs to the current session) before
 * the lock counts as owned again.
 *
 * <p>In fail-safe mode ({@link #vouchedBy}: the main's fencing watcher says every clone
 * acknowledged it) a cut from ZooKeeper does not stop backups: while vouched, SUSPENDED counts as
 * owned, and LOST becomes EXPIRED (the lock node went with the session; owned while vouched) instead of LOST; on the
 * reconnect an expired holder takes the mutex again, and only if that fails is the lock lost.
 */
public final class ClusterExporterLock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ClusterExporterLock.class);
    /** How long a second exporter waits before it is refused. */
    public static final Duration DEFAULT_ACQUIRE_TIMEOUT = Duration.ofSeconds(10);
    private static final long RETAKE_PAUSE_MS = 500;

    /** What this holder may do with the lock now. */
    public enum Ownership {
        /** Held: backups may run. */
        OWNED,
        /** The connection is down: paused until it comes back, or LOST. */
        SUSPENDED,
        /** Back after a suspension; owned again once our lock node is verified. */
        VERIFYING,
        /** Gone with the session (or our lock node is gone): never owned again by this holder. */
        LOST,
        /** Fail-safe mode: the session expired while the clones vouched; taken again on the reconnect. */
        EXPIRED,
        /** Closed by its owner. */
        RELEASED
    }

    private final String path;
    private final String node;
    private volatile InterProcessMutex mutex;
    private final CuratorFramework client;
    /** The lock node this holder created (its sequence node under {@link #path}). */
    private volatile String lockNode;
    /** Fail-safe mode: true while the clones vouch for this main; null outside it. */
    private volatile java.util.function.BooleanSupplier vouched;
    private final LifecycleState lifecycle;
    private final AtomicReference<Ownership> ownership = new AtomicReference<>(Ownership.OWNED);
    private final ConnectionStateListener connectionListener = (c, state) -> connectionChanged(state);
    /** LOST events seen: a retake that spans one holds a lock node of a dead session. */
    private final java.util.concurrent.atomic.AtomicInteger sessionsLost = new java.util.concurrent.atomic.AtomicInteger();
    /** A retake thread runs (at most one). */
    private final java.util.concurrent.atomic.AtomicBoolean retaking = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile String lostBecause = "";
    private CuratorFramework ownedClient;

    private ClusterExporterLock(CuratorFramework client, String path, String node, InterProcessMutex mutex, String lockNode) {
        this.client = client;
        this.path = path;
        this.node = node;
        this.mutex = mutex;
        this.lockNode = lockNode;
        this.lifecycle = new LifecycleState("cluster exporter lock " + path);
    }

    /**
     * For a clustered node ({@code zookeeper.connect} set): connects its own client and takes
     * the instance's exporter lock; closing releases both. Empty for a stand-alone node.
     */
    public static java.util.Optional<ClusterExporterLock> forNode(NodeConfig node, Duration timeout)
            throws OperatorException {
        if (!node.clustered()) {
            return java.util.Optional.empty();
        }
        ZkLayout layout = node.zkLayout();
        CuratorFramework client = ZkClients.connect(node.zkSettings());
        try {
            ClusterExporterLock lock = acquire(client, layout.exporterLockPath(), node.node(), timeout);
            lock.ownedClient = client;
            return java.util.Optional.of(lock);
        } catch (OperatorException | RuntimeException e) {
            client.close();
            throw e;
        }
    }

    /**
     * Takes the mutex, waiting at most {@code timeout}.
     *
     * @param node the node name recorded as holder
     * @throws RefusedException         another exporter holds it (the message names it)
     * @throws OperationFailedException ZooKeeper failed
     */
    public static ClusterExporterLock acquire(CuratorFramework client, String path, String node, Duration timeout)
            throws OperatorException {
        Taken taken = take(client, path, node, timeout);
        ClusterExporterLock lock = new ClusterExporterLock(client, path, node, taken.mutex(), taken.lockNode());
        lock.lifecycle.markStarted();
        client.getConnectionStateListenable().addListener(lock.connectionListener);
        if (!client.getZookeeperClient().isConnected()) {
            lock.connectionChanged(ConnectionState.SUSPENDED); // cut between the acquire and the listener
        }
        return lock;
    }

    private record Taken(InterProcessMutex mutex, String lockNode) {
    }

    private static Taken take(CuratorFramework client, String path, String node, Duration timeout) throws OperatorException {
        byte[] me = ("node=" + node + " pid=" + ProcessHandle.current().pid() + " host=" + host() + " since="
                + Instant.now()).getBytes(StandardCharsets.UTF_8);
        // The standard driver creates the lock node with the client's default data; ours names us
        // and remembers the node, so that a reconnect can check it is still ours.
        AtomicReference<String> created = new AtomicReference<>();
        InterProcessMutex mutex = new InterProcessMutex(client, path, new StandardLockInternalsDriver() {
            @Override
            public String createsTheLock(CuratorFramework c, String p, byte[] lockNodeBytes) throws Exception {
                String node = super.createsTheLock(c, p, me);
                created.set(node);
                return node;
            }
        });
        boolean acquired;
        try {
            acquired = mutex.acquire(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OperationFailedException("interrupted while taking the exporter lock " + path, e);
        } catch (Exception e) {
            throw new OperationFailedException("cannot take the exporter lock " + path + " in ZooKeeper: "
                    + e.getMessage() + " (check zookeeper.connect in the node configuration)", e);
        }
        if (!acquired) {
            throw new RefusedException("another exporter of this instance holds the cluster lock " + path + " ("
                    + holder(client, mutex) + "); one exporter per VM: stop it first");
        }
        LOG.info("cluster exporter lock {} taken", path);
        return new Taken(mutex, created.get());
    }

    /**
     * Fail-safe mode: while {@code vouch} says true, a cut from ZooKeeper does not stop backups
     * (see the class comment). Set once, right after the acquire.
     */
    public void vouchedBy(java.util.function.BooleanSupplier vouch) {
        this.vouched = java.util.Objects.requireNonNull(vouch, "vouch");
    }

    private boolean vouchedNow() {
        java.util.function.BooleanSupplier v = vouched;
        return v != null && v.getAsBoolean();
    }

    private void connectionChanged(ConnectionState state) {
        switch (state) {
            case SUSPENDED -> {
                if (change(Ownership.OWNED, Ownership.SUSPENDED) || change(Ownership.VERIFYING, Ownership.SUSPENDED)) {
                    LOG.warn("cluster exporter lock {}: ZooKeeper connection suspended; no backup starts until it is back", path);
                }
            }
            case LOST -> {
                sessionsLost.incrementAndGet();
                // In fail-safe mode the clones may vouch later in the cut (a first round on cold connections):
                // backups wait for that (isOwned), and the lock is taken again on the reconnect. A session lost
                // again before the retake ended (a second outage right after the first) is the same case.
                if (vouched == null) {
                    lose("the ZooKeeper session was lost");
                } else if (expire()) {
                    LOG.warn("cluster exporter lock {}: the ZooKeeper session expired; fail-safe: backups go on while every"
                            + " clone vouches for this main, and the lock is taken again when ZooKeeper is back", path);
                }
            }
            case RECONNECTED, CONNECTED -> {
                if (change(Ownership.SUSPENDED, Ownership.VERIFYING)) {
                    verify();
                } else if (ownership.get() == Ownership.EXPIRED) {
                    retake();
                }
            }
            default -> LOG.debug("cluster exporter lock {}: connection state {}", path, state);
        }
    }

    /** Fail-safe mode, session lost: EXPIRED from any held state (false once LOST or RELEASED). */
    private boolean expire() {
        while (true) {
            Ownership now = ownership.get();
            if (now == Ownership.LOST || now == Ownership.RELEASED) {
                return false;
            }
            if (now == Ownership.EXPIRED || change(now, Ownership.EXPIRED)) {
                return true;
            }
        }
    }

    /**
     * On a thread of its own (the listener must not block): the mutex again, on the new session.
     * One retake at a time; a reconnect while one runs is seen by its loop. Only another holder
     * loses the lock: ZooKeeper going away again leaves it EXPIRED for the next reconnect.
     */
    private void retake() {
        if (!retaking.compareAndSet(false, true)) {
            return;
        }
        Thread t = new Thread(() -> {
            do {
                try {
                    retakeWhileConnected();
                } finally {
                    retaking.set(false);
                }
                // A reconnect that came as the loop gave up found retaking still set: look once more.
            } while (ownership.get() == Ownership.EXPIRED && connected() && retaking.compareAndSet(false, true));
        }, "exporter-lock-retake");
        t.setDaemon(true);
        t.start();
    }

    private void retakeWhileConnected() {
        while (ownership.get() == Ownership.EXPIRED && connected()) {
            Taken taken;
            try {
                taken = take(client, path, node, DEFAULT_ACQUIRE_TIMEOUT);
            } catch (RefusedException e) {
                if (heldByAnEarlierSessionOfOurs()) {
                    // Our own node of a session ZooKeeper has not expired yet (after an ensemble restart it
                    // lives a session more, seen on the bed past the 10 s wait): it goes, so wait for it.
                    LOG.warn("cluster exporter lock {}: still held by an earlier session of this exporter; waiting for"
                            + " ZooKeeper to expire it", path);
                    if (!pause()) {
                        return;
                    }
                    continue;
                }
                lose("it could not be taken again after the session expired: " + e.getMessage());
                return;
            } catch (OperatorException | RuntimeException e) {
                LOG.warn("cluster exporter lock {}: not taken again yet ({}); it is tried again while ZooKeeper is reachable",
                        path, e.getMessage());
                if (!pause()) {
                    return;
                }
                continue;
            }
            // ZooKeeper may have gone again during the take: the mutex then holds a node of a dead session
            // (or Curator made it again on the new one). Only a node on the live session counts.
            int losses = sessionsLost.get();
            if (!onCurrentSession(taken.lockNode())) {
                LOG.warn("cluster exporter lock {}: the session was lost again while the lock was taken again; once more", path);
                discard(taken);
                continue;
            }
            mutex = taken.mutex();
            lockNode = taken.lockNode();
            if (!change(Ownership.EXPIRED, Ownership.OWNED)) {
                release(); // closed or lost meanwhile
                return;
            }
            if (sessionsLost.get() != losses && expire()) {
                continue; // lost right after the check: that LOST may have come before OWNED was set
            }
            LOG.info("cluster exporter lock {}: taken again on the new session; backups go on", path);
            return;
        }
    }

    /** The lock's first node names this process and belongs to another (older) session. */
    private boolean heldByAnEarlierSessionOfOurs() {
        try {
            java.util.List<String> nodes = new java.util.ArrayList<>(client.getChildren().forPath(path));
            // Lock nodes end in a sequence number: the lowest holds the mutex.
            nodes.sort(java.util.Comparator.comparing(n -> n.substring(Math.max(0, n.length() - 10))));
            if (nodes.isEmpty()) {
                return false;
            }
            org.apache.zookeeper.data.Stat stat = new org.apache.zookeeper.data.Stat();
            byte[] data = client.getData().storingStatIn(stat).forPath(path + "/" + nodes.get(0));
            String text = data == null ? "" : new String(data, StandardCharsets.UTF_8);
            return text.startsWith("node=" + node + " pid=" + ProcessHandle.current().pid() + " ")
                    && stat.getEphemeralOwner() != client.getZookeeperClient().getZooKeeper().getSessionId();
        } catch (Exception e) { // Curator declares Exception: not knowable now, so not ours
            return false;
        }
    }

    private boolean onCurrentSession(String node) {
        try {
            org.apache.zookeeper.data.Stat stat = client.checkExists().forPath(node);
            return stat != null && stat.getEphemeralOwner() == client.getZookeeperClient().getZooKeeper().getSessionId();
        } catch (Exception e) { // Curator declares Exception: not verifiable now is not ours
            return false;
        }
    }

    /** A mutex taken on a session that went: its node is gone, or goes with that session. */
    private void discard(Taken taken) {
        try {
            taken.mutex().release();
        } catch (Exception e) { // Curator declares Exception; the node went (or goes) with its session
            LOG.debug("cluster exporter lock {}: releasing a lock node of a lost session: {}", path, e.getMessage());
        }
    }

    /** Between two retakes, so a ZooKeeper that refuses at once is not hammered; false when interrupted. */
    private static boolean pause() {
        try {
            TimeUnit.MILLISECONDS.sleep(RETAKE_PAUSE_MS);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private boolean connected() {
        return client.getZookeeperClient().isConnected();
    }

    /** Asynchronous (the connection listener must not block): our node, on our current session. */
    private void verify() {
        try {
            client.checkExists().inBackground((c, event) -> verified(event)).forPath(lockNode);
        } catch (Exception e) { // Curator declares Exception; the next state change tries again
            LOG.warn("cluster exporter lock {}: cannot re-verify after the reconnect: {}", path, e.getMessage());
        }
    }

    private void verified(CuratorEvent event) throws Exception {
        long session = client.getZookeeperClient().getZooKeeper().getSessionId();
        if (event.getResultCode() == KeeperException.Code.OK.intValue() && event.getStat() != null
                && event.getStat().getEphemeralOwner() == session) {
            if (change(Ownership.VERIFYING, Ownership.OWNED)) {
                LOG.info("cluster exporter lock {}: re-verified after the reconnect; backups resume", path);
            }
        } else if (event.getResultCode() == KeeperException.Code.OK.intValue()
                || event.getResultCode() == KeeperException.Code.NONODE.intValue()) {
            lose("its lock node " + lockNode + " is gone or belongs to an older session");
        } else {
            LOG.warn("cluster exporter lock {}: re-verification failed ({}); waiting for the next reconnect", path,
                    KeeperException.Code.get(event.getResultCode()));
        }
    }

    /** Synchronized so that the reason is set once and seen by whoever sees LOST (through awaitOwned). */
    private synchronized void lose(String why) {
        Ownership before = ownership.get();
        while (before != Ownership.LOST && before != Ownership.RELEASED) {
            if (ownership.compareAndSet(before, Ownership.LOST)) {
                lostBecause = why + " at " + Instant.now();
                LOG.error("cluster exporter lock {} lost: {}; this exporter runs no more backups", path, why);
                notifyAll();
                return;
            }
            before = ownership.get();
        }
    }

    private boolean change(Ownership from, Ownership to) {
        if (ownership.compareAndSet(from, to)) {
            signal();
            return true;
        }
        return false;
    }

    private synchronized void signal() {
        notifyAll();
    }

    /** Where the lock stands now. */
    public Ownership ownership() {
        return ownership.get();
    }

    /**
     * True while this holder owns the lock with a live, verified session, or, in fail-safe mode,
     * while cut from ZooKeeper (SUSPENDED or EXPIRED) with every clone vouching for this main.
     */
    public boolean isOwned() {
        Ownership now = ownership.get();
        return now == Ownership.OWNED || ((now == Ownership.SUSPENDED || now == Ownership.EXPIRED) && vouchedNow());
    }

    /**
     * Waits at most {@code timeout} for the lock to be owned (a suspended connection may come
     * back); false at once when it is lost or released.
     */
    public boolean awaitOwned(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (this) {
            while (true) {
                Ownership now = ownership.get();
                if (isOwned()) {
                    return true;
                }
                long left = deadline - System.nanoTime();
                if (now == Ownership.LOST || now == Ownership.RELEASED || left <= 0) {
                    return false;
                }
                // The vouching is not signalled: look again at least every 100 ms while it may count.
                TimeUnit.NANOSECONDS.timedWait(this, vouched == null ? left : Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
            }
        }
    }

    /**
     * Returns when the lock is owned; waits at most {@code timeout} for a suspended connection.
     *
     * @throws RefusedException the lock is not owned (the message says why); the backup must not start
     */
    public void requireOwned(Duration timeout) throws RefusedException {
        boolean owned;
        try {
            owned = awaitOwned(timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RefusedException("interrupted while waiting for the cluster exporter lock " + path, e);
        }
        if (!owned) {
            Ownership now;
            synchronized (this) {
                now = ownership.get();
            }
            throw new RefusedException(switch (now) {
                case LOST -> "the cluster exporter lock " + path + " was lost (" + lostBecause
                        + "): another exporter may hold it now, so this one starts no backup; restart this exporter";
                case RELEASED -> "the cluster exporter lock " + path + " was released: this exporter is stopping";
                default -> "the cluster exporter lock " + path + " is " + now.name().toLowerCase() + ": the connection to "
                        + "ZooKeeper did not come back within " + timeout.toMillis() + " ms, so no backup starts now "
                        + "(the next run tries again)";
            });
        }
    }

    /**
     * {@code runner}, run only while this lock is owned: each run first waits at most
     * {@code wait} for a suspended connection, then is refused.
     */
    public BackupRunner guard(BackupRunner runner, Duration wait) {
        return request -> {
            requireOwned(wait);
            return runner.run(request);
        };
    }

    /** The first participant holds the lock; its node's data says who it is. */
    private static String holder(CuratorFramework client, InterProcessMutex mutex) {
        try {
            Collection<String> nodes = mutex.getParticipantNodes();
            if (nodes.isEmpty()) {
                return "holder gone meanwhile; try again";
            }
            byte[] data = client.getData().forPath(nodes.iterator().next());
            String text = data == null ? "" : new String(data, StandardCharsets.UTF_8).strip();
            return text.startsWith("node=") ? "held by " + text : "holder unknown";
        } catch (Exception e) {
            return "holder unreadable: " + e.getMessage();
        }
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "unknown-host";
        }
    }

    public String path() {
        return path;
    }

    /** Releases the mutex (its node is deleted); a client of {@link #forNode} is closed too. */
    @Override
    public void close() {
        if (!lifecycle.markClosed()) {
            return;
        }
        ownership.set(Ownership.RELEASED);
        signal();
        client.getConnectionStateListenable().removeListener(connectionListener);
        try {
            release();
        } finally {
            if (ownedClient != null) {
                ownedClient.close();
                ownedClient = null;
            }
        }
    }

    private void release() {
        try {
            if (mutex.isAcquiredInThisProcess()) {
                mutex.release();
                LOG.info("cluster exporter lock {} released", path);
            }
        } catch (Exception e) {
            // The session's end removes the ephemeral node anyway.
            LOG.warn("releasing the exporter lock {}: {}", path, e.getMessage());
        }
    }
}

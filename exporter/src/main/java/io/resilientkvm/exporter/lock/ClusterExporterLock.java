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
                // In fail-safe mode the clones may vouch later in the cut (a first round on cold connections):
                // backups wait for that (isOwned), and the lock is taken again on the reconnect.
                if (vouched != null && change(Ownership.SUSPENDED, Ownership.EXPIRED)) {
                    LOG.warn("cluster exporter lock {}: the ZooKeeper session expired; fail-safe: backups go on while every"
                            + " clone vouches for this main, and the lock is taken again when ZooKeeper is back", path);
                } else {
                    lose("the ZooKeeper session was lost");
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

    /** On a thread of its own (the listener must not block): the mutex again, on the new session. */
    private void retake() {
        Thread t = new Thread(() -> {
            try {
                Taken taken = take(client, path, node, DEFAULT_ACQUIRE_TIMEOUT);
                mutex = taken.mutex();
                lockNode = taken.lockNode();
                if (change(Ownership.EXPIRED, Ownership.OWNED)) {
                    LOG.info("cluster exporter lock {}: taken again on the new session; backups go on", path);
                } else {
                    release(); // closed or lost meanwhile
                }
            } catch (OperatorException | RuntimeException e) {
                lose("it could not be taken again after the session expired: " + e.getMessage());
            }
        }, "exporter-lock-retake");
        t.setDaemon(true);
        t.start();
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

package io.resilientkvm.engine.watchdog;

import io.resilientkvm.engine.error.OperationFailedException;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Renews a {@link WatchdogLease} from an {@link OwnershipProof}, one proof every quarter of the
 * lease at most (a proof that takes longer delays the next), so that three proofs in a row may
 * fail before the keeper pauses the VM.
 */
public final class LeaseRenewer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LeaseRenewer.class);

    private final WatchdogLease lease;
    private final OwnershipProof proof;
    private final ScheduledExecutorService thread;
    private volatile boolean failing;

    private LeaseRenewer(WatchdogLease lease, OwnershipProof proof, String name) {
        this.lease = lease;
        this.proof = proof;
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "vm-lease-" + name);
            t.setDaemon(true);
            return t;
        });
    }

    /** The renewal period for {@code lease}. */
    public static Duration period(Duration lease) {
        return lease.dividedBy(4);
    }

    /** Proves ownership once now (it must succeed: no VM starts without it), then renews in the background. */
    public static LeaseRenewer start(WatchdogLease lease, OwnershipProof proof, String name) throws OperationFailedException {
        OptionalLong first;
        try {
            first = proof.prove();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OperationFailedException("interrupted while proving that " + name + " owns its epoch", e);
        }
        if (first.isEmpty()) {
            throw new OperationFailedException(name + " cannot prove it still owns its epoch (see the log above); the VM is not"
                    + " started");
        }
        lease.renew(first.getAsLong());
        LeaseRenewer r = new LeaseRenewer(lease, proof, name);
        long period = period(lease.lease()).toNanos();
        r.thread.scheduleAtFixedRate(r::renewOnce, period, period, TimeUnit.NANOSECONDS);
        return r;
    }

    private void renewOnce() {
        try {
            OptionalLong p = proof.prove();
            if (p.isPresent()) {
                lease.renew(p.getAsLong());
                if (failing) {
                    LOG.info("Ownership proven again: the VM's lease is renewed");
                    failing = false;
                }
            } else if (!failing) {
                failing = true;
                LOG.warn("Ownership not proven: the VM's lease is not renewed; its keeper pauses the VM {} ms after the last"
                        + " proof", lease.lease().toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.warn("Lease renewal failed: {}", e.getMessage(), e);
        }
    }

    /** Stops renewing: the VM's keeper pauses it within the lease unless it was released. */
    @Override
    public void close() {
        thread.shutdownNow();
    }
}

package io.resilientkvm.engine.watchdog;

import io.resilientkvm.engine.process.QemuProcess;
import io.resilientkvm.engine.process.QemuStartException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A main's lease on running its VM: the newest proof of ownership, handed to the {@link VmKeeper}
 * of every QEMU it starts (a restart included). Renewed by a {@link LeaseRenewer}.
 */
public final class WatchdogLease {
    private static final Logger LOG = LoggerFactory.getLogger(WatchdogLease.class);

    private final Duration lease;
    private final Path keeperLog;
    private volatile long lastProof;
    private volatile boolean proven;
    private volatile VmWatchdog current;

    public WatchdogLease(Duration lease, Path keeperLog) {
        if (lease.isNegative() || lease.isZero()) {
            throw new IllegalArgumentException("the VM watchdog's lease must be positive, got " + lease);
        }
        this.lease = lease;
        this.keeperLog = Objects.requireNonNull(keeperLog, "keeperLog");
    }

    /**
     * How long a promotion waits after the epoch moved before its VM starts: the lease, plus a
     * tenth for the old keeper's reaction (its 10 ms check, its scheduling) and the clocks' drift.
     */
    public static Duration promotionWait(Duration lease) {
        return lease.plus(lease.dividedBy(10));
    }

    public Duration lease() {
        return lease;
    }

    /** The keeper of the QEMU guarded last, if any. */
    java.util.Optional<VmWatchdog> current() {
        return java.util.Optional.ofNullable(current);
    }

    /** Records a proof taken at {@code proofNanos} and passes it to the running keeper. */
    public void renew(long proofNanos) {
        lastProof = proofNanos;
        proven = true;
        VmWatchdog w = current;
        if (w != null) {
            w.renew(proofNanos);
        }
    }

    /**
     * Puts a freshly started QEMU under a keeper whose deadline follows the newest proof. If the
     * keeper cannot start, QEMU is killed: a VM never runs unguarded. If the keeper dies on its
     * own later, QEMU is killed too (the supervisor restarts it, with a new keeper).
     */
    public void guard(QemuProcess qemu) throws QemuStartException {
        if (!proven) {
            qemu.kill(Duration.ofSeconds(10));
            throw new QemuStartException("no proof of ownership yet: QEMU pid " + qemu.pid() + " killed before it ran unguarded");
        }
        VmWatchdog w;
        try {
            w = VmWatchdog.start(qemu.pid(), lease, lastProof, keeperLog);
        } catch (IOException e) {
            qemu.kill(Duration.ofSeconds(10));
            throw new QemuStartException("cannot start the VM keeper of QEMU pid " + qemu.pid() + " (" + e.getMessage()
                    + "); QEMU killed, since it must not run unguarded", e);
        }
        w.renew(lastProof); // a proof taken while the keeper started
        current = w;
        qemu.guardWith(w);
        w.onExit().thenRun(() -> {
            if (!w.released() && qemu.isAlive()) {
                LOG.error("The VM keeper pid {} of QEMU pid {} exited on its own (see {}): killing QEMU, which must not run"
                        + " unguarded", w.keeperPid(), qemu.pid(), keeperLog);
                qemu.kill(Duration.ofSeconds(10));
            }
        });
    }
}

package io.resilientkvm.engine.watchdog;

import java.util.OptionalLong;

/**
 * A source of proof that this node still owns its epoch, so that its VM may go on running: the
 * ZooKeeper one ({@link ZooKeeperOwnershipProof}); issue 14's fail-safe mode adds the clones'
 * acknowledgements over the peer channel during a ZooKeeper outage.
 */
@FunctionalInterface
public interface OwnershipProof {
    /**
     * Proves ownership once. Returns the time ({@link LeaseClock#nanos()}) taken before the proof
     * was asked, when it proved this node the owner; empty when it could not
     * (another owner, source unreachable, a timeout). Blocks for at most about one lease.
     */
    OptionalLong prove() throws InterruptedException;
}

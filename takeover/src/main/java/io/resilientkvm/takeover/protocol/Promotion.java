package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.zk.Epoch;

/**
 * Makes this node the running main, once it owns {@code newEpoch} and the old main is marked
 * fenced: restore the plan's points (instant mode), start the VM, then the exporter and the
 * backup server, and announce the MAIN role. Implemented by the node agent. Returns when the
 * VM runs (the end of this step is the RTO's end).
 */
@FunctionalInterface
public interface Promotion {
    void promote(TakeoverPlan plan, Epoch newEpoch) throws OperatorException;
}

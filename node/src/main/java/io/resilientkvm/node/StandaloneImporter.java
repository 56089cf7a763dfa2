package io.resilientkvm.node;

import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.instance.NodeConfig;

/**
 * A clone's importer and retention without the rest of the agent ({@code bin/importer}): it is
 * never promoted. Owns its ZooKeeper session; {@link #close()} stops the importer, then the session.
 */
public final class StandaloneImporter implements AutoCloseable {
    private final NodeContext ctx;
    private final CloneRole clone;

    private StandaloneImporter(NodeContext ctx, CloneRole clone) {
        this.ctx = ctx;
        this.clone = clone;
    }

    public static StandaloneImporter start(NodeConfig config) throws OperatorException {
        NodeContext ctx = NodeContext.open(config);
        try {
            return new StandaloneImporter(ctx, CloneRole.start(ctx, Retention.forClone(ctx)));
        } catch (OperatorException | RuntimeException e) {
            ctx.client().close();
            throw e;
        }
    }

    @Override
    public void close() {
        try {
            clone.close();
        } finally {
            ctx.client().close();
        }
    }
}

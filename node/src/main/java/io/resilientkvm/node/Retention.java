package io.resilientkvm.node;

import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.importer.retention.PruneResult;
import io.resilientkvm.importer.retention.Pruner;
import io.resilientkvm.importer.retention.RetentionPolicy;
import io.resilientkvm.importer.service.ImportRound;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A clone's retention, applied after each import round that brought something new. */
final class Retention {
    private static final Logger LOG = LoggerFactory.getLogger(Retention.class);

    private Retention() {
    }

    static Consumer<ImportRound> forClone(NodeContext ctx) {
        Path repository = ctx.config().layout().backupRepository();
        RetentionPolicy policy = RetentionPolicy.of(ctx.resilient());
        return round -> {
            if (round.imported().isEmpty()) {
                return; // nothing new: the previous round already pruned
            }
            try {
                for (PruneResult r : new Pruner(repository, policy, Clock.systemUTC()).pruneAll()) {
                    if (!r.removed().isEmpty()) {
                        LOG.info("Retention ({}) removed chains {} ({} bytes)", policy, r.removed(), r.bytesFreed());
                    }
                }
            } catch (IOException | OperatorException e) {
                // A restore holding the repository, or a damaged chain: the next round tries again.
                LOG.warn("Retention skipped this round: {}", e.getMessage());
            }
        };
    }
}

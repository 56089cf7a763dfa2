package io.resilientkvm.importer.retention;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.zk.CatalogView;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The main's retention of the manifest catalog in ZooKeeper: the same {@link RetentionPolicy}
 * the clones apply to their repositories, applied to the published chains, with every chain some
 * clone's {@link ImporterStatus} says it still keeps counted as held. So a chain's znodes go when
 * retention would remove it and no clone keeps it any more; the newest chain of each disk always
 * stays (a clone catches up from it). While any clone's status does not say what it keeps (an
 * older version), nothing is removed. Removals are the main's epoch-checked writes
 * ({@link ManifestCatalog#removeChain}).
 */
public final class CatalogRetention {
    private static final Logger LOG = LoggerFactory.getLogger(CatalogRetention.class);

    private final ManifestCatalog catalog;
    private final CatalogView view;
    private final ImporterStatusStore statuses;
    private final RetentionPolicy policy;
    private final Clock clock;

    public CatalogRetention(ManifestCatalog catalog, CatalogView view, ImporterStatusStore statuses, RetentionPolicy policy,
            Clock clock) {
        this.catalog = Objects.requireNonNull(catalog, "catalog");
        this.view = Objects.requireNonNull(view, "view");
        this.statuses = Objects.requireNonNull(statuses, "statuses");
        this.policy = Objects.requireNonNull(policy, "policy");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * Removes the chains retention lets go, under {@code mine}.
     *
     * @return the chains removed, as {@code device/chain}
     */
    public List<String> run(Epoch mine) throws OperatorException {
        Map<String, ImporterStatus> clones = statuses.all();
        List<String> silent = clones.values().stream().filter(s -> s.chains() == null).map(ImporterStatus::node).toList();
        if (!silent.isEmpty()) {
            LOG.info("Catalog retention skipped: clones {} do not report the chains they keep (upgrade them)", silent);
            return List.of();
        }
        Map<String, Map<String, List<BackupManifest>>> byDevice = new TreeMap<>();
        for (BackupManifest m : view.refresh()) {
            byDevice.computeIfAbsent(m.device(), d -> new TreeMap<>()).computeIfAbsent(m.chainId(), c -> new ArrayList<>())
                    .add(m);
        }
        List<String> removed = new ArrayList<>();
        for (var device : byDevice.entrySet()) {
            List<ChainFacts> facts = new ArrayList<>();
            for (var chain : device.getValue().entrySet()) {
                List<BackupManifest> backups = chain.getValue();
                // Published means verified by the exporter; a clone whose copy failed keeps its older chain, held below.
                boolean complete = backups.stream().anyMatch(b -> b.level() == BackupManifest.Level.FULL);
                boolean held = clones.values().stream().anyMatch(s -> s.keeps(device.getKey(), chain.getKey()));
                facts.add(new ChainFacts(chain.getKey(), backups.stream().map(Pruner::time).toList(), complete,
                        held));
            }
            RetentionPlan plan = RetentionPlanner.plan(device.getKey(), facts, policy, clock);
            for (String chainId : plan.toRemove()) {
                catalog.removeChain(mine, device.getKey(), chainId);
                removed.add(device.getKey() + "/" + chainId);
            }
        }
        if (!removed.isEmpty()) {
            LOG.info("Catalog retention ({}) removed chains {} (no clone keeps them)", policy, removed);
        }
        return removed;
    }
}

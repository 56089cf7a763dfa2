package io.resilientkvm.importer.service;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.testing.SyntheticHistory;
import io.resilientkvm.engine.testing.ZkReadCounter;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.framework.CuratorFramework;

/**
 * What a clone's reconcile costs with a history of {@code chains x perChain} published
 * manifests that the clone holds (its repository has their manifests): the ZooKeeper reads
 * (Curator's tracer on the clone's own client) and the time of a steady-state round, after the
 * first rounds (the most reads and the least time of 5). Shared by the test and
 * bench/importer/catalog.sh.
 *
 * @param manifests     published manifests
 * @param firstReads    reads of the rounds at the start (the whole catalog, once per process)
 * @param steadyReads   reads of a round with nothing changed
 * @param steadyMillis  that round's time
 * @param downloads     downloads asked for (none: everything is held)
 */
record ReconcileCost(int manifests, long firstReads, long steadyReads, double steadyMillis, int downloads) {
    static ReconcileCost measure(String connect, String instance, Path dir, int chains, int perChain) throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-cost", instance);
        Path repo = dir.resolve(instance);
        try (CuratorFramework main = ZkClients.connect(ZkSettings.of(connect));
                CuratorFramework clone = ZkClients.connect(ZkSettings.of(connect))) {
            EpochStore epochs = new EpochStore(main, layout);
            Epoch epoch = epochs.initialize("main");
            main.create().creatingParentsIfNeeded().forPath(layout.importersPath());
            List<BackupManifest> history = SyntheticHistory.of("virtio0", Instant.parse("2026-11-01T00:00:00Z"),
                    Duration.ofSeconds(5), chains, perChain, epoch.number());
            new ManifestCatalog(main, layout).publishAll(epoch, history);
            for (BackupManifest m : history) { // held here: the clone is in step
                Path file = repo.resolve(m.device()).resolve(m.chainId()).resolve(m.file());
                Files.createDirectories(file.getParent());
                Files.writeString(BackupManifest.manifestPath(file), m.toJson());
            }
            AtomicInteger downloads = new AtomicInteger();
            ZkReadCounter counter = ZkReadCounter.on(clone);
            long r0 = counter.reads(); // before the start: its own round is part of the first
            try (ImporterService importer = ImporterService.start(clone, layout, new ImporterService.Settings("clone1", repo,
                    Duration.ofHours(1), Duration.ofMinutes(5), Duration.ofMillis(10), Duration.ofHours(1)),
                    (uri, m, r) -> {
                        downloads.incrementAndGet();
                        throw new OperationFailedException("nothing is to be downloaded: " + m.file());
                    }, e -> Optional.empty(), r -> { })) {
                // The start's round comes first; a second one, queued by the start's tick, runs before this second call.
                ImportRound first = importer.reconcileNow();
                importer.reconcileNow();
                long r1 = counter.reads();
                if (!first.ok()) {
                    throw new IllegalStateException("the first round failed: " + first);
                }
                double millis = Double.MAX_VALUE;
                long reads = 0;
                for (int i = 0; i < 5; i++) { // the best of 5: the JIT warms up on the first
                    long before = counter.reads();
                    long t0 = System.nanoTime();
                    ImportRound steady = importer.reconcileNow();
                    millis = Math.min(millis, (System.nanoTime() - t0) / 1e6);
                    reads = Math.max(reads, counter.reads() - before);
                    if (!steady.ok() || !steady.imported().isEmpty()) {
                        throw new IllegalStateException("the steady round did something: " + steady);
                    }
                }
                return new ReconcileCost(history.size(), r1 - r0, reads, millis, downloads.get());
            }
        }
    }
}

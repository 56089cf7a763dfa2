package io.resilientkvm.engine.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.testing.SyntheticHistory;
import io.resilientkvm.engine.testing.ZkReadCounter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A {@link CatalogView} reads only what changed: the same number of ZooKeeper reads (counted by
 * Curator's tracer on the reading client) with 2,000 published manifests as with 200, real
 * ZooKeeper (Curator TestingServer).
 */
class CatalogViewTest {
    private static final Instant START = Instant.parse("2026-11-01T00:00:00Z");
    private static final Duration EVERY = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private ZkPair zk;
    private CuratorFramework main;
    private CuratorFramework clone;

    @BeforeEach
    void start() throws Exception {
        zk = ZkPair.start(dir);
        main = zk.main();
        clone = zk.cloneClient();
    }

    @AfterEach
    void stop() throws Exception {
        zk.close();
    }

    /** The reads of: a first refresh, a refresh with nothing changed, one after one more backup, one after a removal. */
    private record Costs(long first, long unchanged, long afterBackup, long afterRemoval) {}

    private Costs costs(String instance, int chains) throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm-test", instance);
        EpochStore epochs = new EpochStore(main, layout);
        Epoch epoch = epochs.initialize("main");
        ManifestCatalog catalog = new ManifestCatalog(main, layout);
        List<BackupManifest> history = SyntheticHistory.of("virtio0", START, EVERY, chains, 200, epoch.number());
        catalog.publishAll(epoch, history);

        ZkReadCounter counter = ZkReadCounter.on(clone);
        CatalogView view = new CatalogView(clone, layout);
        long r0 = counter.reads();
        assertEquals(history, view.refresh(), "the first refresh reads the whole catalog, in backup order");
        long r1 = counter.reads();
        assertEquals(history.size(), view.refresh().size());
        long r2 = counter.reads();

        BackupManifest next = SyntheticHistory.manifest("virtio0", START, EVERY, 200, chains - 1, 200, epoch.number());
        catalog.publish(epoch, next);
        List<BackupManifest> after = view.refresh();
        long r3 = counter.reads();
        assertEquals(history.size() + 1, after.size());
        assertEquals(next, after.get(after.size() - 1), "the new backup is seen");

        // Chain 0 goes (with 1 chain, that is the one that just grew).
        catalog.removeChain(epoch, "virtio0", history.get(0).chainId());
        List<BackupManifest> pruned = view.refresh();
        long r4 = counter.reads();
        assertEquals(chains == 1 ? 0 : history.size() + 1 - 200, pruned.size());
        assertFalse(pruned.stream().anyMatch(m -> m.chainId().equals(history.get(0).chainId())), "the chain is gone");
        assertEquals(r4 - r0, view.reads(), "the view counts the reads Curator traced");
        return new Costs(r1 - r0, r2 - r1, r3 - r2, r4 - r3);
    }

    @Test
    void aRefreshCostsTheSameWith2000PublishedManifestsAsWith200() throws Exception {
        Costs c200 = costs("c200", 1);
        Costs c2000 = costs("c2000", 10);
        assertTrue(c200.first() > 200 && c2000.first() > 2000, c200 + " / " + c2000);
        // Nothing changed: the devices and each device's head, whatever the history.
        assertEquals(2, c200.unchanged(), String.valueOf(c200));
        assertEquals(c200.unchanged(), c2000.unchanged(), c200 + " / " + c2000);
        // One more backup: also its chain's listing and the new manifest.
        assertEquals(4, c200.afterBackup(), String.valueOf(c200));
        assertEquals(c200.afterBackup(), c2000.afterBackup(), c200 + " / " + c2000);
        // A chain removed: the remaining chains of that device are listed (as many as retention keeps), no manifest.
        assertEquals(3 + 9, c2000.afterRemoval(), String.valueOf(c2000));
    }
}

package io.resilientkvm.importer.retention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.params.RetentionAge;
import io.resilientkvm.engine.testing.SyntheticHistory;
import io.resilientkvm.engine.zk.CatalogView;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The catalog in ZooKeeper shrinks as retention removes chains, and keeps every chain a clone
 * still holds and the newest chain: real ZooKeeper (Curator TestingServer), znodes counted.
 */
class CatalogRetentionTest {
    private static final Instant START = Instant.parse("2026-10-01T00:00:00Z");
    private static final Duration EVERY = Duration.ofHours(1);
    /** Only the newest backup's chain and backups of the last day: the five chains of October are old. */
    private static final RetentionPolicy POLICY = new RetentionPolicy(RetentionAge.parse("1D"), 1, 0, 0, 0);
    private static final Clock NOW = Clock.fixed(Instant.parse("2026-11-01T00:00:00Z"), ZoneOffset.UTC);

    @TempDir
    Path dir;

    private final ZkLayout layout = new ZkLayout("/rkvm-test", "demo");
    private TestingServer zk;
    private CuratorFramework client;
    private EpochStore epochs;
    private Epoch epoch;
    private ManifestCatalog catalog;
    private ImporterStatusStore statuses;
    private CatalogRetention retention;
    private List<String> chains;

    @BeforeEach
    void start() throws Exception {
        zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
        client = ZkClients.connect(ZkSettings.of(zk.getConnectString()));
        epochs = new EpochStore(client, layout);
        epoch = epochs.initialize("main");
        catalog = new ManifestCatalog(client, layout);
        statuses = new ImporterStatusStore(client, layout);
        List<BackupManifest> history = SyntheticHistory.of("virtio0", START, EVERY, 5, 10, epoch.number());
        catalog.publishAll(epoch, history);
        chains = history.stream().map(BackupManifest::chainId).distinct().toList();
        retention = new CatalogRetention(catalog, new CatalogView(client, layout), statuses, POLICY, NOW);
    }

    @AfterEach
    void stop() throws Exception {
        client.close();
        zk.close();
    }

    private void clone(String node, List<String> keeps) throws Exception {
        statuses.write(new ImporterStatus(node, epoch.number(), NOW.instant(), List.of(), 0, null,
                Map.of("virtio0", keeps)));
    }

    /** Every znode under manifests/ (devices, chains, manifests). */
    private int znodes(String path) throws Exception {
        int n = 0;
        for (String child : client.getChildren().forPath(path)) {
            n += 1 + znodes(path + "/" + child);
        }
        return n;
    }

    @Test
    void theCatalogShrinksWhenNoCloneKeepsAChainAnyMore() throws Exception {
        clone("clone1", List.of(chains.get(1), chains.get(4)));
        clone("clone2", List.of(chains.get(4)));
        assertEquals(1 + 5 + 50, znodes(layout.manifestsPath()));

        assertEquals(List.of("virtio0/" + chains.get(0), "virtio0/" + chains.get(2), "virtio0/" + chains.get(3)),
                retention.run(epoch));
        assertEquals(1 + 2 + 20, znodes(layout.manifestsPath()), "chain 1 (clone1 keeps it) and the newest stay");

        // clone1's retention removed chain 1 too; no clone reports the newest: it stays all the same.
        clone("clone1", List.of());
        clone("clone2", List.of());
        assertEquals(List.of("virtio0/" + chains.get(1)), retention.run(epoch));
        assertEquals(1 + 1 + 10, znodes(layout.manifestsPath()));
        assertEquals(List.of(), retention.run(epoch), "the newest chain always stays");
        assertEquals(chains.get(4), new ManifestCatalog(client, layout).newestPerDevice().get(0).chainId());
    }

    @Test
    void aCloneThatDoesNotSayWhatItKeepsStopsAnyRemoval() throws Exception {
        clone("clone1", List.of(chains.get(4)));
        statuses.write(new ImporterStatus("old-clone", epoch.number(), NOW.instant(), List.of(), 0, null));
        assertEquals(List.of(), retention.run(epoch));
        assertEquals(1 + 5 + 50, znodes(layout.manifestsPath()));
    }

    @Test
    void aReplacedMainRemovesNothing() throws Exception {
        clone("clone1", List.of(chains.get(4)));
        epochs.advance(epoch, "clone1");
        assertThrows(RefusedException.class, () -> retention.run(epoch));
        assertEquals(1 + 5 + 50, znodes(layout.manifestsPath()));
    }
}

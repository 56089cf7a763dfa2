package io.resilientkvm.engine.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.error.RefusedException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Publication of manifests and importer status against a real (embedded) ZooKeeper. */
class ManifestCatalogTest {
    @TempDir
    Path dir;

    private ZkPair zk;
    private CuratorFramework main;
    private CuratorFramework clone;
    private final ZkLayout layout = new ZkLayout("/rkvm-test", "demo");

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

    static BackupManifest manifest(String device, String chain, int seq, long epoch) {
        Instant t = Instant.parse("2026-11-24T10:00:00Z").plusSeconds(60L * seq);
        String file = name(chain, seq);
        String parent = seq == 0 ? null : name(chain, seq - 1);
        return new BackupManifest(BackupManifest.FORMAT_VERSION, "demo", device, chain, seq, seq == 0 ? Level.FULL : Level.INC,
                file, parent, "qmpbackup-" + device + "-" + chain, 1 << 20, 4096, "0".repeat(64), t, t, t, epoch, 4096, 10);
    }

    /** FULL-CHAIN.qcow2, then INC files a minute apart, as the exporter names them. */
    private static String name(String chain, int seq) {
        if (seq == 0) {
            return "FULL-" + chain + ".qcow2";
        }
        return "INC-" + chain.substring(0, 11) + String.format("%02d", seq) + chain.substring(13) + ".qcow2";
    }

    @Test
    void publishedManifestsAreListedInBackupOrderByAnyClient() throws Exception {
        Epoch zero = new EpochStore(main, layout).initialize("main");
        ManifestCatalog catalog = new ManifestCatalog(main, layout);
        catalog.publish(zero, manifest("virtio0", "20261124T100000.000Z", 1, 0));
        catalog.publish(zero, manifest("virtio0", "20261124T100000.000Z", 0, 0));
        catalog.publish(zero, manifest("disk-data1", "20261124T100000.000Z", 0, 0));
        catalog.publish(zero, manifest("virtio0", "20261124T100000.000Z", 1, 0)); // twice: no-op

        List<BackupManifest> seen = new ManifestCatalog(clone, layout).list();
        assertEquals(List.of("disk-data1#0", "virtio0#0", "virtio0#1"),
                seen.stream().map(m -> m.device() + "#" + m.sequence()).toList());
        assertEquals(manifest("virtio0", "20261124T100000.000Z", 1, 0), seen.get(2), "the manifest survives the round trip");
        assertEquals(List.of(1, 0), new ManifestCatalog(clone, layout).newestPerDevice().stream()
                .map(BackupManifest::sequence).sorted((a, b) -> b - a).toList());
    }

    @Test
    void aReplacedMainCannotPublishNorRemove() throws Exception {
        Epoch zero = new EpochStore(main, layout).initialize("main");
        new EpochStore(clone, layout).advance(zero, "clone1");
        ManifestCatalog catalog = new ManifestCatalog(main, layout);
        RefusedException e = assertThrows(RefusedException.class,
                () -> catalog.publish(zero, manifest("virtio0", "20261124T100000.000Z", 0, 0)));
        assertTrue(e.getMessage().contains("no longer current"), e.getMessage());
        assertTrue(catalog.list().isEmpty(), "nothing was published");
        assertThrows(RefusedException.class, () -> catalog.removeChain(zero, "virtio0", "20261124T100000.000Z"));
    }

    @Test
    void aManifestMustCarryThePublishersEpoch() throws Exception {
        Epoch zero = new EpochStore(main, layout).initialize("main");
        RefusedException e = assertThrows(RefusedException.class,
                () -> new ManifestCatalog(main, layout).publish(zero, manifest("virtio0", "20261124T100000.000Z", 0, 7)));
        assertTrue(e.getMessage().contains("epoch 7"), e.getMessage());
    }

    @Test
    void aChainIsRemovedWhole() throws Exception {
        Epoch zero = new EpochStore(main, layout).initialize("main");
        ManifestCatalog catalog = new ManifestCatalog(main, layout);
        catalog.publish(zero, manifest("virtio0", "20261124T100000.000Z", 0, 0));
        catalog.publish(zero, manifest("virtio0", "20261124T100000.000Z", 1, 0));
        catalog.publish(zero, manifest("virtio0", "20261125T100000.000Z", 0, 0));
        catalog.removeChain(zero, "virtio0", "20261124T100000.000Z");
        assertEquals(List.of("20261125T100000.000Z"), catalog.list().stream().map(BackupManifest::chainId).toList());
    }

    @Test
    void importerStatusRoundTrips() throws Exception {
        ImporterStatusStore store = new ImporterStatusStore(clone, layout);
        ImporterStatus s = new ImporterStatus("clone1", 2, Instant.parse("2026-11-24T10:05:00Z"),
                List.of(new ImporterStatus.Point("virtio0", "20261124T100000.000Z", 3, "INC-x.qcow2",
                        Instant.parse("2026-11-24T10:03:00Z"))), 12345, null);
        store.write(s);
        store.write(s);
        assertEquals(s, new ImporterStatusStore(main, layout).read("clone1").orElseThrow());
        assertEquals(List.of("clone1"), List.copyOf(new ImporterStatusStore(main, layout).all().keySet()));
        assertNull(store.all().get("clone1").lastError());
        assertTrue(s.point("virtio0").orElseThrow().atLeast("20261124T100000.000Z", 3));
    }
}

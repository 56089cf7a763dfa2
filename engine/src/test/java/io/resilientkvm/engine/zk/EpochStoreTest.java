package io.resilientkvm.engine.zk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The epoch protocol against a real (embedded) ZooKeeper. */
class EpochStoreTest {
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

    @Test
    void theFirstNodeInitializesEpochZeroAndOthersReadIt() throws Exception {
        EpochStore store = new EpochStore(main, layout);
        assertTrue(store.current().isEmpty());
        Epoch e = store.initialize("main");
        assertEquals(0, e.number());
        assertEquals("main", e.owner());
        assertEquals(e, new EpochStore(clone, layout).initialize("clone1"), "a second initialize keeps the first owner");
    }

    @Test
    void onlyOneOfTwoRacingAdvancesWins() throws Exception {
        Epoch zero = new EpochStore(main, layout).initialize("main");
        Epoch one = new EpochStore(clone, layout).advance(zero, "clone1");
        assertEquals(1, one.number());
        RefusedException lost = assertThrows(RefusedException.class, () -> new EpochStore(main, layout).advance(zero, "clone2"));
        assertTrue(lost.getMessage().contains("another takeover won"), lost.getMessage());
        assertEquals("clone1", new EpochStore(main, layout).current().orElseThrow().owner());
    }

    /**
     * Curator's retry of a write whose answer was lost: the same write (same number, owner and
     * stamp) applied once already is this takeover's success; any other write in between is not.
     */
    @Test
    void aRetriedAdvanceThatFindsItsOwnWriteAppliedSucceedsAndAnyOtherIsRefused() throws Exception {
        Epoch zero = new EpochStore(main, layout).initialize("main");
        java.time.Instant stamp = java.time.Instant.parse("2026-12-01T16:23:28.523Z");
        EpochStore store = new EpochStore(clone, layout);
        Epoch one = store.advance(zero, "clone1", stamp);
        assertEquals(one, store.advance(zero, "clone1", stamp), "the retry finds its own write: the same epoch");
        assertThrows(RefusedException.class, () -> store.advance(zero, "clone1", stamp.plusMillis(1)), "another attempt's write");
        assertThrows(RefusedException.class, () -> store.advance(zero, "clone2", stamp), "another node's");
        new EpochStore(main, layout).advance(one, "clone2");
        assertThrows(RefusedException.class, () -> store.advance(zero, "clone1", stamp), "moved on twice since: not this write");
    }

    @Test
    void aReplacedMainCannotWriteAnymore() throws Exception {
        EpochStore mainStore = new EpochStore(main, layout);
        Epoch mine = mainStore.initialize("main");
        String path = layout.manifestPath("virtio0", "c1", 0);
        main.create().creatingParentContainersIfNeeded().forPath(layout.manifestsPath() + "/virtio0/c1");
        mainStore.writeUnderEpoch(mine, List.of(main.transactionOp().create().forPath(path, "m0".getBytes(StandardCharsets.UTF_8))));
        assertArrayEquals("m0".getBytes(StandardCharsets.UTF_8), clone.getData().forPath(path));

        new EpochStore(clone, layout).advance(mine, "clone1");
        String next = layout.manifestPath("virtio0", "c1", 1);
        assertThrows(RefusedException.class, () -> mainStore.writeUnderEpoch(mine,
                List.of(main.transactionOp().create().forPath(next, "m1".getBytes(StandardCharsets.UTF_8)))));
        assertNull(clone.checkExists().forPath(next), "the refused write left nothing behind");
    }

    @Test
    void namesThatCouldEscapeTheLayoutAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> layout.memberPath("../x"));
        assertThrows(IllegalArgumentException.class, () -> layout.manifestPath("virtio0", "a/b", 0));
        assertThrows(IllegalArgumentException.class, () -> new ZkLayout("no-slash", "demo"));
        assertEquals("/rkvm-test/instances/demo/manifests/virtio0/c1/0000000007", layout.manifestPath("virtio0", "c1", 7));
    }

    @Test
    void anUnreachableEnsembleFailsWithAClearMessage() {
        OperationFailedException e = assertThrows(OperationFailedException.class, () -> ZkClients.connect(
                new ZkSettings("127.0.0.1:1", Duration.ofSeconds(2), Duration.ofSeconds(1), true)));
        assertTrue(e.getMessage().contains("127.0.0.1:1") && e.getMessage().contains("zookeeper"), e.getMessage());
        assertFalse(e.getMessage().isBlank());
    }
}

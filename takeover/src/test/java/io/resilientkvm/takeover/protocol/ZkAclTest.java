package io.resilientkvm.takeover.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkAccess;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.takeover.fencing.FenceReason;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.AuthInfo;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.data.ACL;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * ZooKeeper ACLs on a real server: an instance set up by its nodes through the real stores and
 * recipes, every znode created with the instance's ACLs; clients without the instance's
 * credentials (none, a wrong password) get NoAuth on the epoch, manifests, fences, statuses and
 * members; another node of the instance cannot rewrite a node's own znodes; the instance goes on.
 */
class ZkAclTest {
    private static final ZkLayout LAYOUT = new ZkLayout(ZkLayout.DEFAULT_BASE, "kvm1");
    private static final String INSTANCE_PW = "instance-secret";

    @TempDir
    Path dir;
    private TestingServer zk;
    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        zk.close();
    }

    private static ZkAccess access(String node) {
        return new ZkAccess(LAYOUT, node, INSTANCE_PW, node + "-secret");
    }

    private <T extends AutoCloseable> T keep(T c) {
        open.add(c);
        return c;
    }

    private CuratorFramework node(String node) throws Exception {
        return keep(ZkClients.connect(ZkSettings.of(zk.getConnectString()).withAccess(access(node))));
    }

    /** A plain client, authenticated as the given digest identities (user:password), if any. */
    private CuratorFramework stranger(String... auth) throws Exception {
        List<AuthInfo> infos = new ArrayList<>();
        for (String a : auth) {
            infos.add(new AuthInfo("digest", a.getBytes(StandardCharsets.UTF_8)));
        }
        CuratorFramework c = keep(CuratorFrameworkFactory.builder().connectString(zk.getConnectString())
                .retryPolicy(new RetryOneTime(100)).authorization(infos).build());
        c.start();
        assertTrue(c.blockUntilConnected(10, TimeUnit.SECONDS));
        return c;
    }

    @Test
    void withoutTheInstancesCredentialsNothingOfTheInstanceCanBeChangedAndTheInstanceGoesOn() throws Exception {
        CuratorFramework main = node("node-a");
        CuratorFramework clone1 = node("clone1");
        Epoch zero = new EpochStore(main, LAYOUT).initialize("node-a");
        ManifestCatalog catalog = new ManifestCatalog(main, LAYOUT);
        for (BackupManifest m : Fixtures.chain("virtio0", 1, 0)) {
            catalog.publish(zero, m);
        }
        new ImporterStatusStore(clone1, LAYOUT).write(Fixtures.status("clone1", 0, Fixtures.point("virtio0", 1)));
        keep(Membership.register(main, LAYOUT, Fixtures.member("node-a", Role.MAIN, 0), 10_000));
        keep(Membership.register(clone1, LAYOUT, Fixtures.member("clone1", Role.CLONE, 0), 10_000));
        new FencedNodes(main, LAYOUT).mark(zero, "node-a", new FenceReason("clone2", "test fence", 0, Fixtures.T0));
        InterProcessMutex lock = new InterProcessMutex(clone1, LAYOUT.takeoverLockPath());
        assertTrue(lock.acquire(10, TimeUnit.SECONDS));

        // Every znode the nodes made, Curator's lock node included, carries the instance's ACLs.
        ZkAccess a = access("node-a");
        for (String path : tree(main, LAYOUT.instancePath())) {
            // ZooKeeper shows an ACL's digests only to a client with ADMIN on the znode: its owner.
            boolean clone1s = path.equals(LAYOUT.memberPath("clone1")) || path.equals(LAYOUT.importerPath("clone1"));
            List<ACL> acl = (clone1s ? clone1 : main).getACL().forPath(path);
            List<ACL> expected = path.equals(LAYOUT.memberPath("node-a")) ? a.ownAcl()
                    : clone1s ? access("clone1").ownAcl()
                    : a.instanceAcl();
            assertEquals(expected, acl, path);
        }
        assertEquals(a.sharedParentAcl(), main.getACL().forPath("/resilient-kvm/instances"));

        String manifest = LAYOUT.manifestPath("virtio0", Fixtures.CHAIN, 1);
        String fence = LAYOUT.fencedPath("clone2");
        String status = LAYOUT.importerPath("clone1");
        String member = LAYOUT.memberPath("node-a");
        for (CuratorFramework s : List.of(stranger(), stranger("instance-kvm1:wrong"), stranger("node-kvm1/node-a:wrong"))) {
            noAuth(() -> s.setData().forPath(LAYOUT.epochPath(), "x".getBytes(StandardCharsets.UTF_8)));
            noAuth(() -> s.getData().forPath(LAYOUT.epochPath()));
            noAuth(() -> s.setData().forPath(manifest, "x".getBytes(StandardCharsets.UTF_8)));
            noAuth(() -> s.delete().forPath(manifest));
            noAuth(() -> s.create().forPath(LAYOUT.manifestPath("virtio0", Fixtures.CHAIN, 2), "x".getBytes(StandardCharsets.UTF_8)));
            noAuth(() -> s.create().forPath(LAYOUT.fencedPath("node-a")));
            noAuth(() -> s.delete().forPath(fence));
            noAuth(() -> s.setData().forPath(status, "x".getBytes(StandardCharsets.UTF_8)));
            noAuth(() -> s.delete().forPath(status));
            noAuth(() -> s.setData().forPath(member, "x".getBytes(StandardCharsets.UTF_8)));
            noAuth(() -> s.setACL().withACL(org.apache.zookeeper.ZooDefs.Ids.OPEN_ACL_UNSAFE).forPath(LAYOUT.epochPath()));
            noAuth(() -> s.create().forPath(LAYOUT.instancePath() + "/intruder"));
            // Through the project's own stores too: the operator reads why, not a bare code.
            OperationFailedException e = assertThrows(OperationFailedException.class,
                    () -> new ImporterStatusStore(s, LAYOUT).write(Fixtures.status("clone1", 0, Fixtures.point("virtio0", 0))));
            assertTrue(e.getMessage().contains("not allowed by the znode's ACL (NoAuth)"), e.getMessage());
        }

        // Another node of the instance reads a node's own znodes but cannot rewrite them.
        CuratorFramework clone2 = node("clone2");
        assertEquals(Fixtures.status("clone1", 0, Fixtures.point("virtio0", 1)), new ImporterStatusStore(clone2, LAYOUT).read("clone1").orElseThrow());
        noAuth(() -> clone2.setData().forPath(status, "x".getBytes(StandardCharsets.UTF_8)));
        noAuth(() -> clone2.setData().forPath(member, "x".getBytes(StandardCharsets.UTF_8)));

        // The instance goes on: same epoch, the main publishes, the clone reports, the members stay.
        assertEquals(zero, new EpochStore(clone1, LAYOUT).current().orElseThrow());
        catalog.publish(zero, Fixtures.manifest("virtio0", Fixtures.CHAIN, 2, 0));
        assertEquals(3, new ManifestCatalog(clone1, LAYOUT).list().size());
        new ImporterStatusStore(clone1, LAYOUT).write(Fixtures.status("clone1", 0, Fixtures.point("virtio0", 2)));
        assertEquals(List.of("clone1", "node-a"), Membership.list(clone2, LAYOUT).keySet().stream().sorted().toList());
        assertTrue(new FencedNodes(clone1, LAYOUT).isFenced("clone2"));
        assertFalse(new FencedNodes(clone1, LAYOUT).isFenced("node-a"));
        lock.release();
    }

    private static void noAuth(Executable change) {
        Exception e = assertThrows(Exception.class, change);
        assertInstanceOf(KeeperException.NoAuthException.class, e);
    }

    private static List<String> tree(CuratorFramework c, String path) throws Exception {
        List<String> all = new ArrayList<>(List.of(path));
        for (String child : c.getChildren().forPath(path)) {
            all.addAll(tree(c, path + "/" + child));
        }
        return all;
    }
}

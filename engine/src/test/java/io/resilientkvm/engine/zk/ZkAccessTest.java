package io.resilientkvm.engine.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.instance.NodeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryOneTime;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node's ZooKeeper identities: read from the node config's secret files, and the ACL of each path. */
class ZkAccessTest {
    private static final ZkLayout LAYOUT = new ZkLayout(ZkLayout.DEFAULT_BASE, "kvm1");

    @TempDir
    Path dir;

    private Path secret(String name, String content, String mode) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, content);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
        return f;
    }

    @Test
    void theNodeConfigReadsBothSecretsAndTheSettingsCarryThem() throws Exception {
        secret("instance.secret", "inst-pw\n", "rw-------");
        secret("node.secret", "node-pw\n", "r--------");
        Path cfg = dir.resolve("node.json");
        Files.writeString(cfg, """
                {"node": "a", "instance": "kvm1", "data-dir": "data", "parameters": "p.json",
                 "zookeeper": {"connect": "127.0.0.1:2181", "instance-secret-file": "instance.secret", "node-secret-file": "node.secret"}}
                """);
        ZkAccess access = NodeConfig.load(cfg).zkSettings().access().orElseThrow();
        assertEquals(new ZkAccess(LAYOUT, "a", "inst-pw", "node-pw"), access);
        assertEquals("instance-kvm1", access.instanceUser());
        assertEquals("node-kvm1/a", access.nodeUser());
        assertFalse(access.toString().contains("pw"), access.toString());
    }

    @Test
    void oneSecretWithoutTheOtherIsBadInput() throws Exception {
        secret("instance.secret", "inst-pw", "rw-------");
        Path cfg = dir.resolve("node.json");
        Files.writeString(cfg, """
                {"node": "a", "data-dir": "data", "parameters": "p.json",
                 "zookeeper": {"connect": "127.0.0.1:2181", "instance-secret-file": "instance.secret"}}
                """);
        BadInputException e = assertThrows(BadInputException.class, () -> NodeConfig.load(cfg));
        assertTrue(e.getMessage().contains("node-secret-file"), e.getMessage());
    }

    @Test
    void aSecretFileReadableByOthersEmptyOrMissingIsRefusedWithWhatToDo() throws Exception {
        Path open = secret("open.secret", "pw", "rw-r--r--");
        Path empty = secret("empty.secret", " \n", "rw-------");
        Path good = secret("good.secret", "pw", "rw-------");
        assertTrue(assertThrows(BadInputException.class, () -> ZkAccess.read(LAYOUT, "a", open, good)).getMessage()
                .contains("readable or writable by group or others (mode rw-r--r--), so it is not secret; run 'chmod 600 " + open + "'"));
        assertTrue(assertThrows(BadInputException.class, () -> ZkAccess.read(LAYOUT, "a", good, empty)).getMessage()
                .contains("zookeeper.node-secret-file: " + empty + " must hold the secret on one line, got an empty file"));
        assertTrue(assertThrows(BadInputException.class, () -> ZkAccess.read(LAYOUT, "a", dir.resolve("none"), good)).getMessage()
                .contains("is not a file"));
    }

    @Test
    void ownZnodesGiveTheInstanceReadOnlyTheRestOfTheInstanceIsTheInstancesAndSharedParentsAreOpenToCreateOnly() {
        ZkAccess a = new ZkAccess(LAYOUT, "a", "i", "n");
        Id instance = ZkAccess.digestId("instance-kvm1", "i");
        Id node = ZkAccess.digestId("node-kvm1/a", "n");
        assertEquals(List.of(new ACL(Perms.ALL, node), new ACL(Perms.READ, instance)), a.aclFor(LAYOUT.memberPath("a")));
        assertEquals(List.of(new ACL(Perms.ALL, node), new ACL(Perms.READ, instance)), a.aclFor(LAYOUT.importerPath("a")));
        List<ACL> instanceOnly = List.of(new ACL(Perms.ALL, instance));
        for (String p : List.of(LAYOUT.instancePath(), LAYOUT.epochPath(), LAYOUT.memberPath("b"), LAYOUT.importerPath("b"),
                LAYOUT.manifestPath("virtio0", "c1", 3), LAYOUT.fencedPath("a"), LAYOUT.takeoverLockPath() + "/_c_x-lock-0000000001")) {
            assertEquals(instanceOnly, a.aclFor(p), p);
        }
        for (String p : List.of("/resilient-kvm", "/resilient-kvm/instances")) {
            assertEquals(List.of(new ACL(Perms.ALL, instance), new ACL(Perms.READ | Perms.CREATE, new Id("world", "anyone"))), a.aclFor(p), p);
        }
    }

    @Test
    void anInstanceZnodeMadeWithoutTheInstancesCredentialsIsRefusedAtConnect() throws Exception {
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                CuratorFramework open = CuratorFrameworkFactory.newClient(zk.getConnectString(), new RetryOneTime(100))) {
            open.start();
            open.create().creatingParentsIfNeeded().forPath(LAYOUT.instancePath());
            ZkSettings settings = ZkSettings.of(zk.getConnectString()).withAccess(new ZkAccess(LAYOUT, "a", "i", "n"));
            OperationFailedException e = assertThrows(OperationFailedException.class, () -> ZkClients.connect(settings));
            assertTrue(e.getMessage().contains("created without the instance's credentials"), e.getMessage());
        }
    }
}

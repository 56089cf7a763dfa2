package io.resilientkvm.node;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.VmHost;
import io.resilientkvm.engine.lifecycle.ComponentStack;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.engine.process.RestartPolicy;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.exporter.lock.ClusterExporterLock;
import io.resilientkvm.exporter.server.BackupServer;
import io.resilientkvm.exporter.server.BackupServerSettings;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import io.resilientkvm.schemas.ValidationReport;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stack of the main's real components whose third fails to start, for real, leaves nothing
 * running: the first holds a znode (the cluster exporter lock), the second a QEMU process, its
 * supervisor and the guest file server (a listening socket and its threads), and the third, a
 * backup server, is asked to bind the port the guest file server already holds.
 */
class ComponentStackRealComponentsTest {
    private static final String VM = "stack-vm";

    @TempDir
    Path dir;

    @Test
    void aStackWhoseThirdComponentFailsToStartLeavesNoThreadProcessZnodeOrSocket() throws Exception {
        ZkLayout zk = new ZkLayout("/rkvm-test", "stack");
        int guestPort = Leftovers.freePort();
        KvmParameters params = params("{\"ram-size\": 256, \"cpu-count\": 1, \"disk-size\": 1, \"use-nat\": true, \"nat-rules\": [],"
                + " \"use-tap\": false, \"enable-http-server\": true, \"httpd-port\": " + guestPort + ","
                + " \"authorized-key\": \"ssh-ed25519 AAAA test\"}");
        InstanceLayout layout = new InstanceLayout(dir.resolve("node-a"));
        Path token = io.resilientkvm.engine.secret.TestSecrets.write(dir.resolve("token"), TestNodeConfig.TOKEN);
        AtomicLong qemuPid = new AtomicLong(-1);
        try (TestingServer server = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                CuratorFramework client = ZkClients.connect(ZkSettings.of(server.getConnectString()))) {
            ComponentStack stack = new ComponentStack("main role parts");
            stack.start("exporter lock", () -> ClusterExporterLock.acquire(client, zk.exporterLockPath(), "node-a",
                    Duration.ofSeconds(10)));
            stack.start("VM", () -> {
                KvmInstance vm = KvmInstance.prepare(VM, params, VmHost.loopback(), layout);
                qemuPid.set(vm.start(RestartPolicy.NEVER).current().orElseThrow().pid());
                return vm;
            });
            // What the first two hold, before the third fails.
            assertEquals(1, client.getChildren().forPath(zk.exporterLockPath()).size(), "the lock znode");
            assertTrue(ProcessHandle.of(qemuPid.get()).map(ProcessHandle::isAlive).orElse(false), "QEMU runs");
            assertEquals(200, HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                    + guestPort + "/authorized_key")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode(), "the guest file server listens");
            assertFalse(Leftovers.threads("guest-file-server").isEmpty(), "the guest file server's threads");

            OperationFailedException e = assertThrows(OperationFailedException.class, () -> stack.start("backup server",
                    () -> BackupServer.start(new BackupServerSettings("127.0.0.1", guestPort, layout.backupRepository(),
                            token, Optional.empty(), Optional.empty(), 2))));
            assertTrue(e.getMessage().contains("cannot listen"), e.getMessage());

            assertEquals(List.of(), client.getChildren().forPath(zk.exporterLockPath()), "no lock znode is left");
            await("QEMU is gone").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(50))
                    .until(() -> ProcessHandle.of(qemuPid.get()).map(p -> !p.isAlive()).orElse(true));
            assertEquals(List.of(), Leftovers.processesMentioning(layout.root()), "no process of the instance runs");
            assertFalse(Leftovers.accepts(guestPort), "nothing listens on " + guestPort);
            assertTrue(Leftovers.bindable(guestPort), guestPort + " can be bound again");
            await("no thread of the stopped components").atMost(1, TimeUnit.MINUTES).pollInterval(Duration.ofMillis(50))
                    .until(() -> Leftovers.threads("guest-file-server", "vm-supervisor-" + VM, "backup-server-").isEmpty());
            assertEquals(0, stack.size());
        } finally {
            ProcessHandle.of(qemuPid.get()).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    private static KvmParameters params(String json) throws Exception {
        ValidationReport r = ParameterValidator.of(SchemaKind.KVM_INSTANCE).validate(JsonDocuments.parseObject(json, "t"));
        assertTrue(r.valid(), r.violations().toString());
        return KvmParameters.fromEffective(r.effective());
    }
}

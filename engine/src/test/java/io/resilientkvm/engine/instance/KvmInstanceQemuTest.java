package io.resilientkvm.engine.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.engine.process.QemuProcess;
import io.resilientkvm.engine.process.RestartPolicy;
import io.resilientkvm.engine.process.VmSupervisor;
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
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real QEMU booted from SlapOS parameters, and the external-disk migration guard. */
class KvmInstanceQemuTest {
    @TempDir
    Path dir;

    static KvmParameters params(String json) throws Exception {
        ValidationReport r = ParameterValidator.of(SchemaKind.KVM_INSTANCE).validate(JsonDocuments.parseObject(json, "t"));
        assertTrue(r.valid(), r.violations().toString());
        return KvmParameters.fromEffective(r.effective());
    }

    @Test
    void bootsAVmFromParametersWithItsDisksNetworkVncAndGuestFiles() throws Exception {
        int httpd = freePort();
        KvmParameters p = params("{\"ram-size\": 256, \"cpu-count\": 2, \"disk-size\": 1, \"use-tap\": false, \"nat-rules\": [22],"
                + " \"enable-http-server\": true, \"httpd-port\": " + httpd + ", \"authorized-key\": \"ssh-ed25519 AAAA test\","
                + " \"external-disk-number\": 1, \"external-disk-size\": 1}");
        InstanceLayout layout = new InstanceLayout(dir.resolve("kvm1"));
        try (KvmInstance instance = KvmInstance.prepare("kvm1", p, VmHost.loopback(), layout)) {
            assertTrue(Files.exists(layout.mainDisk()));
            assertTrue(Files.exists(layout.vncPasswordFile()));
            VmSupervisor supervisor = instance.start(RestartPolicy.NEVER);
            QemuProcess qemu = supervisor.current().orElseThrow();
            assertEquals("running", qemu.qmp().execute("query-status").path("status").asText());

            Map<String, String> devices = new TreeMap<>();
            for (JsonNode b : qemu.qmp().execute("query-block")) {
                devices.put(b.path("qdev").asText(), b.path("inserted").path("node-name").asText());
            }
            assertEquals("virtual1", devices.get("/machine/peripheral/virtio0/virtio-backend"), devices.toString());
            assertEquals("disk-data1", devices.get("/machine/peripheral/disk-data1/virtio-backend"), devices.toString());
            assertEquals(1L << 30, qemu.qmp().execute("query-block").get(0).path("inserted").path("image").path("virtual-size").asLong());

            JsonNode vnc = qemu.qmp().execute("query-vnc");
            assertTrue(vnc.path("enabled").asBoolean(), vnc.toString());
            assertEquals("vnc", vnc.path("auth").asText(), "VNC must ask for the password");
            assertEquals(256L << 20, qemu.qmp().execute("query-memory-size-summary").path("base-memory").asLong());
            assertEquals(2, qemu.qmp().execute("query-cpus-fast").size());

            HttpResponse<String> key = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + httpd + "/authorized_key")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, key.statusCode());
            assertEquals("ssh-ed25519 AAAA test", key.body().trim());

            // A guest write, through the device the parameters created, lands in the main disk.
            String reply = qemu.qmp().humanMonitorCommand("qemu-io -d /machine/peripheral/virtio0/virtio-backend \"write -P 0x5a 1048576 65536\"");
            assertFalse(reply.contains("error") || reply.contains("failed"), reply);

            instance.close();
            assertFalse(qemu.isAlive(), "close stops QEMU");
            assertEquals(0, qemu.exitCode().orElse(-1), "stopped cleanly with quit");
            assertTrue(io.resilientkvm.engine.testing.TestVm.hasPattern(layout.mainDisk(), 0x5a, 1 << 20, 65536));
            assertFalse(io.resilientkvm.engine.testing.TestVm.hasPattern(layout.mainDisk(), 0x5a, 0, 65536));

            // Start once, close once: a closed instance does not start again, and nothing it served still listens.
            assertThrows(IllegalStateException.class, () -> instance.start(RestartPolicy.NEVER));
            instance.close();
            assertEquals(VmSupervisor.State.CLOSED, supervisor.state());
            assertThrows(java.io.IOException.class, () -> new java.net.Socket("127.0.0.1", httpd).close(),
                    "the guest file server is closed");
        }
    }

    @Test
    void aConflictingExternalDiskChangeRefusesToStartAndTouchesNothing() throws Exception {
        InstanceLayout layout = new InstanceLayout(dir.resolve("kvm2"));
        KvmParameters legacy = params("{\"disk-size\": 1, \"external-disk-number\": 2, \"external-disk-size\": 1}");
        try (KvmInstance first = KvmInstance.prepare("kvm2", legacy, VmHost.loopback(), layout)) {
            assertEquals("2", Files.readString(layout.etc().resolve(".data-disk-amount")).trim());
        }
        Path elsewhere = dir.resolve("other.qcow2");
        Files.copy(layout.root().resolve("external/data1/kvm_virtual_disk.qcow2"), elsewhere);
        Map<Path, String> before = snapshot(layout.root());

        KvmParameters migrated = params("{\"disk-size\": 1, \"external-disk\": {\"first\": {\"path\": \"" + elsewhere + "\"}}}");
        RefusedException e = assertThrows(RefusedException.class, () -> KvmInstance.prepare("kvm2", migrated, VmHost.loopback(), layout));
        assertTrue(e.getMessage().contains(".data-disk-amount"), e.getMessage());
        assertTrue(e.getMessage().contains(".data-disk-ids"), e.getMessage());
        assertEquals(before, snapshot(layout.root()), "a refused start must not create, change or remove a file");
    }

    /** The seed suite's map (ExternalDiskModernMixin) runs in QEMU, and its derived ids are recorded and kept on restart. */
    @Test
    void theSeedSuitesThreeDisksRunAndKeepTheirIdsAcrossRestarts() throws Exception {
        InstanceLayout layout = new InstanceLayout(dir.resolve("edm0"));
        Files.createDirectories(layout.root());
        Path work = Files.createDirectories(dir.resolve("work"));
        io.resilientkvm.engine.disk.QemuImg qemuImg = new io.resilientkvm.engine.disk.QemuImg();
        qemuImg.create(work.resolve("first_disk"), "qcow", 1 << 20);
        qemuImg.create(layout.root().resolve("second_disk"), "qcow2", 1 << 20);
        qemuImg.create(work.resolve("third_disk"), "qcow2", 1 << 20);
        KvmParameters p = params("""
                {"ram-size": 256, "disk-size": 1, "use-tap": false, "external-disk": {
                  "second disk": {"path": "second_disk", "index": 2},
                  "third disk": {"path": "%s", "index": 3, "cache": "none"},
                  "first disk": {"path": "%s", "index": 1, "format": "qcow"}}}"""
                .formatted(work.resolve("third_disk"), work.resolve("first_disk")));
        List<String> ids = List.of("first_disk.db379bdf", "second_disk.d5fca699", "third_disk.907c7112");
        for (int start = 1; start <= 2; start++) {
            try (KvmInstance instance = KvmInstance.prepare("edm0", p, VmHost.loopback(), layout)) {
                QemuProcess qemu = instance.start(RestartPolicy.NEVER).current().orElseThrow();
                Map<String, String> drivers = new TreeMap<>();
                for (JsonNode b : qemu.qmp().execute("query-block")) {
                    drivers.put(b.path("inserted").path("node-name").asText(), b.path("inserted").path("drv").asText()
                            + " " + b.path("inserted").path("file").asText());
                }
                assertEquals(Map.of("virtual1", "qcow2 " + layout.mainDisk(),
                        "disk-" + ids.get(0), "qcow " + work.resolve("first_disk"),
                        "disk-" + ids.get(1), "qcow2 " + layout.root().resolve("second_disk"),
                        "disk-" + ids.get(2), "qcow2 " + work.resolve("third_disk")), drivers, "start " + start);
            }
            assertEquals(ids, Files.readAllLines(layout.etc().resolve(".data-disk-ids")), "start " + start);
        }
    }

    private static Map<Path, String> snapshot(Path root) throws Exception {
        Map<Path, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.toList()) {
                out.put(f, Files.isRegularFile(f) ? Files.size(f) + "@" + Files.getLastModifiedTime(f) : "dir");
            }
        }
        return out;
    }

    private static int freePort() throws Exception {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}

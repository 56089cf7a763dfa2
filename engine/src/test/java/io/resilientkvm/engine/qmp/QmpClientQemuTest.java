package io.resilientkvm.engine.qmp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.resilientkvm.engine.testing.TestVm;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.awaitility.Awaitility.await;

/** The QMP client against a real QEMU. */
class QmpClientQemuTest {
    @TempDir
    Path dir;

    @Test
    void queriesStatusAndBlockDevicesAndWritesThroughQemuIo() throws Exception {
        Path disk = TestVm.blankQcow2(dir.resolve("disk.qcow2"), 16 << 20);
        try (TestVm vm = TestVm.builder(dir).disk("virtio0", disk).start()) {
            QmpClient qmp = vm.qmp();
            assertTrue(qmp.greeting().atLeast(7, 2), "QEMU 7.2 or newer: " + qmp.greeting().version());
            assertEquals("prelaunch", qmp.execute("query-status").path("status").asText());

            List<String> nodes = new ArrayList<>();
            qmp.execute("query-named-block-nodes").forEach(n -> nodes.add(n.path("node-name").asText()));
            assertTrue(nodes.contains("virtio0-fmt"), "node names: " + nodes);
            JsonNode block = qmp.execute("query-block");
            assertEquals("/machine/peripheral/virtio0/virtio-backend", block.get(0).path("qdev").asText());

            vm.write("virtio0", 0x41, 0, 1 << 20);
            vm.write("virtio0", 0x42, 4 << 20, 1 << 20);
            assertThrows(IllegalStateException.class, () -> vm.write("virtio9", 0x41, 0, 512));
            vm.quit();
        }
        assertTrue(TestVm.hasPattern(disk, 0x41, 0, 1 << 20));
        assertTrue(TestVm.hasPattern(disk, 0x42, 4 << 20, 1 << 20));
        assertFalse(TestVm.hasPattern(disk, 0x41, 4 << 20, 1 << 20));
    }

    @Test
    void errorRepliesAreTypedAndTheConnectionStaysUsable() throws Exception {
        try (TestVm vm = TestVm.builder(dir).start()) {
            QmpClient qmp = vm.qmp();
            QmpErrorException e = assertThrows(QmpErrorException.class, () -> qmp.execute("no-such-command"));
            assertEquals("CommandNotFound", e.errorClass());
            assertTrue(e.getMessage().contains("no-such-command"), e.getMessage());
            QmpErrorException missing = assertThrows(QmpErrorException.class, () -> qmp.execute("block-dirty-bitmap-add",
                    JsonNodeFactory.instance.objectNode().put("node", "nope").put("name", "b")));
            assertEquals("GenericError", missing.errorClass());
            assertEquals("prelaunch", qmp.execute("query-status").path("status").asText());
        }
    }

    @Test
    void eventsReachListenersAndStreams() throws Exception {
        try (TestVm vm = TestVm.builder(dir).start()) {
            QmpClient qmp = vm.qmp();
            List<String> seen = new CopyOnWriteArrayList<>();
            try (QmpClient.Registration r = qmp.addListener(e -> seen.add(e.name()));
                 QmpEventStream stream = qmp.openEventStream("RESUME", "STOP")) {
                qmp.execute("cont");
                assertEquals("RESUME", stream.next(Duration.ofSeconds(10)).name());
                qmp.execute("stop");
                assertEquals("STOP", stream.next(Duration.ofSeconds(10)).name());
                await().atMost(Duration.ofSeconds(10)).until(() -> seen.containsAll(List.of("RESUME", "STOP")));
            }
        }
    }

    @Test
    void pendingCommandsAndStreamsFailWhenQemuDies() throws Exception {
        try (TestVm vm = TestVm.builder(dir).start();
             QmpEventStream stream = vm.qmp().openEventStream("NEVER")) {
            vm.kill();
            assertThrows(QmpConnectionException.class, () -> stream.next(Duration.ofSeconds(10)));
            assertThrows(QmpConnectionException.class, () -> vm.qmp().execute("query-status"));
            assertFalse(vm.qmp().isOpen());
        }
    }

    @Test
    void connectingToAMissingSocketSaysWhatToCheck() {
        QmpConnectionException e = assertThrows(QmpConnectionException.class,
                () -> QmpClient.connect(dir.resolve("absent.sock"), Duration.ofSeconds(2)));
        assertTrue(e.getMessage().contains("absent.sock") && e.getMessage().contains("-qmp"), e.getMessage());
    }
}

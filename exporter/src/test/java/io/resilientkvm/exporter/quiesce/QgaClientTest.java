package io.resilientkvm.exporter.quiesce;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The guest agent protocol against a fake agent: sync, replies, errors, silence. */
class QgaClientTest {
    private static final Duration T = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    @Test
    void syncSkipsAStaleReplyAndCommandsGetTheirOwnReplies() throws Exception {
        try (FakeGuestAgent agent = new FakeGuestAgent(dir.resolve("qga.sock"))) {
            agent.staleReplyFirst(true);
            try (QgaClient c = QgaClient.connect(dir.resolve("qga.sock"), T)) {
                assertEquals(2, c.execute("guest-fsfreeze-freeze", T).asInt());
                assertEquals(2, c.execute("guest-fsfreeze-thaw", T).asInt());
            }
            assertEquals(List.of("guest-fsfreeze-freeze", "guest-fsfreeze-thaw"), agent.commands());
        }
    }

    @Test
    void anErrorReplyNamesTheCommandAndQemusDescription() throws Exception {
        try (FakeGuestAgent agent = new FakeGuestAgent(dir.resolve("qga.sock"));
                QgaClient c = QgaClient.connect(dir.resolve("qga.sock"), T)) {
            agent.freeze(FakeGuestAgent.Freeze.ERROR);
            QgaClient.QgaException e = assertThrows(QgaClient.QgaException.class,
                    () -> c.execute("guest-fsfreeze-freeze", T));
            assertTrue(e.getMessage().contains("guest-fsfreeze-freeze") && e.getMessage().contains("resource busy"),
                    e.getMessage());
        }
    }

    @Test
    void aSilentAgentTimesOutAndTheClientRefusesFurtherUse() throws Exception {
        try (FakeGuestAgent agent = new FakeGuestAgent(dir.resolve("qga.sock"));
                QgaClient c = QgaClient.connect(dir.resolve("qga.sock"), T)) {
            agent.freeze(FakeGuestAgent.Freeze.SILENT);
            QgaClient.QgaTimeoutException e = assertThrows(QgaClient.QgaTimeoutException.class,
                    () -> c.execute("guest-fsfreeze-freeze", Duration.ofMillis(300)));
            assertTrue(e.getMessage().contains("qemu-guest-agent"), e.getMessage());
            assertThrows(java.io.IOException.class, () -> c.execute("guest-fsfreeze-thaw", T));
        }
    }

    @Test
    void noAgentSocketFailsToConnect() {
        assertThrows(java.io.IOException.class, () -> QgaClient.connect(dir.resolve("none.sock"), T));
    }
}

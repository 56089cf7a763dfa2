package io.resilientkvm.engine.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code importer.free-space-reserve-bytes} in a node configuration: given, defaulted, refused when negative. */
class NodeConfigImporterTest {
    @TempDir
    Path dir;

    private Path config(String importer) throws Exception {
        return Files.writeString(dir.resolve("node.json"), """
                {"node": "clone1", "instance": "kvm1", "data-dir": "data", "parameters": "p.json",
                 "network": {"ipv4": "127.0.0.1"}, "vnc": {"listen": "unix"}, "qemu": {"accelerator": "auto"}
                 %s}
                """.formatted(importer));
    }

    @Test
    void theReserveIsReadOrDefaultedToOneGiB() throws Exception {
        assertEquals(5000, NodeConfig.load(config(", \"importer\": {\"free-space-reserve-bytes\": 5000}")).importer()
                .freeSpaceReserveBytes());
        assertEquals(1L << 30, NodeConfig.load(config("")).importer().freeSpaceReserveBytes());
    }

    @Test
    void aNegativeReserveIsRefusedNamingTheKey() throws Exception {
        BadInputException e = assertThrows(BadInputException.class,
                () -> NodeConfig.load(config(", \"importer\": {\"free-space-reserve-bytes\": -1}")));
        assertTrue(e.getMessage().contains("free-space-reserve-bytes"), e.getMessage());
    }
}

package io.resilientkvm.engine.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code vm-watchdog.lease-ms} in a node configuration: given, defaulted to 5000 ms, refused out of range. */
class NodeConfigWatchdogTest {
    @TempDir
    Path dir;

    private Path config(String watchdog) throws Exception {
        return Files.writeString(dir.resolve("node.json"), """
                {"node": "node-a", "instance": "kvm1", "data-dir": "data", "parameters": "p.json",
                 "network": {"ipv4": "127.0.0.1"}, "vnc": {"listen": "unix"}, "qemu": {"accelerator": "auto"}
                 %s}
                """.formatted(watchdog));
    }

    @Test
    void theLeaseIsReadOrDefaulted() throws Exception {
        assertEquals(Duration.ofMillis(2500), NodeConfig.load(config(", \"vm-watchdog\": {\"lease-ms\": 2500}")).vmWatchdog().lease());
        assertEquals(Duration.ofMillis(5000), NodeConfig.load(config("")).vmWatchdog().lease());
        assertEquals(NodeConfig.Watchdog.DEFAULT, NodeConfig.load(config(", \"vm-watchdog\": {}")).vmWatchdog());
    }

    @Test
    void aLeaseOutOfRangeOrAnUnknownKeyIsRefusedNamingIt() throws Exception {
        for (String bad : new String[] {"{\"lease-ms\": 999}", "{\"lease-ms\": 60001}", "{\"lease\": 5000}"}) {
            BadInputException e = assertThrows(BadInputException.class, () -> NodeConfig.load(config(", \"vm-watchdog\": " + bad)));
            assertTrue(e.getMessage().contains("vm-watchdog"), bad + ": " + e.getMessage());
        }
    }
}

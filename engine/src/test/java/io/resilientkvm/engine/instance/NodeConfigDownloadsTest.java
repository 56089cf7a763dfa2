package io.resilientkvm.engine.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.disk.DownloadLimits;
import io.resilientkvm.engine.error.RefusedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node config's {@code downloads} settings, and what a node without them refuses. */
class NodeConfigDownloadsTest {
    @TempDir
    Path dir;

    @Test
    void readsTheDownloadSettingsWithRootsRelativeToTheFile() throws Exception {
        Path config = dir.resolve("node.json");
        Files.writeString(config, """
                {"node": "n1", "data-dir": "data", "parameters": "p.json",
                 "downloads": {"file-roots": ["images", "/srv/images"], "max-bytes": 1048576, "deadline-seconds": 60}}""");

        DownloadLimits limits = NodeConfig.load(config).host().downloads();

        assertEquals(new DownloadLimits(1 << 20, Duration.ofSeconds(60), List.of(dir.resolve("images"), Path.of("/srv/images"))),
                limits);
    }

    @Test
    void withoutThemNoFileUrlOneTebibyteAndTwoHours() throws Exception {
        Path config = dir.resolve("node.json");
        Files.writeString(config, "{\"node\": \"n1\", \"data-dir\": \"data\", \"parameters\": \"p.json\"}");

        assertEquals(DownloadLimits.DEFAULT, NodeConfig.load(config).host().downloads());
    }

    @Test
    void aFileUrlOnANodeThatAllowsNoneIsRefusedNamingTheSetting() throws Exception {
        Path image = dir.resolve("image.raw");
        Files.write(image, new byte[4096]);
        InstanceLayout layout = new InstanceLayout(dir.resolve("kvm"));

        RefusedException e = assertThrows(RefusedException.class, () -> KvmInstance.prepare("kvm",
                KvmInstanceQemuTest.params("{\"virtual-hard-drive-url\": \"" + image.toUri() + "\"}"), VmHost.loopback(), layout));

        assertTrue(e.getMessage().contains("downloads.file-roots"), e.getMessage());
        assertTrue(e.getMessage().contains(image.toUri().toString()), e.getMessage());
        assertFalse(Files.exists(layout.mainDisk()));
    }
}

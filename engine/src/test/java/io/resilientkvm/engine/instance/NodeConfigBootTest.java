package io.resilientkvm.engine.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The node configuration's {@code boot} (direct kernel boot, a test and drill fixture). */
class NodeConfigBootTest {
    @TempDir
    Path dir;

    private Path config(String boot) throws Exception {
        Path f = dir.resolve("node.json");
        Files.writeString(f, "{\"node\": \"n1\", \"data-dir\": \"data\", \"parameters\": \"p.json\"" + boot + "}");
        return f;
    }

    @Test
    void withoutBootTheVmBootsItsDisk() throws Exception {
        assertTrue(NodeConfig.load(config("")).host().boot().isEmpty());
    }

    @Test
    void bootPathsResolveAgainstTheConfigFolder() throws Exception {
        Files.writeString(dir.resolve("vmlinuz"), "k");
        Files.writeString(dir.resolve("initrd.img"), "i");
        DirectBoot b = NodeConfig.load(config(", \"boot\": {\"kernel\": \"vmlinuz\", \"initrd\": \"initrd.img\", \"append\": \"console=ttyS0\"}"))
                .host().boot().orElseThrow();
        assertEquals(dir.resolve("vmlinuz"), b.kernel());
        assertEquals(dir.resolve("initrd.img"), b.initrd());
        assertEquals("console=ttyS0", b.append());
    }

    @Test
    void missingBootFilesAreBadInputNamingEach() throws Exception {
        BadInputException e = assertThrows(BadInputException.class, () -> NodeConfig.load(
                config(", \"boot\": {\"kernel\": \"none/vmlinuz\", \"initrd\": \"none/initrd.img\"}")));
        assertTrue(e.getMessage().contains("boot.kernel = " + dir.resolve("none/vmlinuz") + ": no such file"), e.getMessage());
        assertTrue(e.getMessage().contains("boot.initrd"), e.getMessage());
        BadInputException noInitrd = assertThrows(BadInputException.class, () -> NodeConfig.load(
                config(", \"boot\": {\"kernel\": \"vmlinuz\"}")));
        assertTrue(noInitrd.getMessage().contains("initrd"), noInitrd.getMessage());
    }
}

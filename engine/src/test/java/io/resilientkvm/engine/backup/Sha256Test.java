package io.resilientkvm.engine.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The double-buffered file hash gives the digest of the bytes, whatever the size against its buffers. */
class Sha256Test {
    @TempDir
    Path dir;

    @Test
    void anEmptyFileHasTheWellKnownDigest() throws Exception {
        Path f = Files.createFile(dir.resolve("empty"));
        assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Sha256.of(f));
    }

    @Test
    void filesAroundTheBufferSizeHashLikeTheirBytes() throws Exception {
        Random random = new Random(42);
        for (int size : new int[] {1, 1 << 20, (1 << 20) + 1, (2 << 20) - 1, (5 << 20) + 7}) {
            byte[] bytes = new byte[size];
            random.nextBytes(bytes);
            Path f = Files.write(dir.resolve("f" + size), bytes);
            String expected = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
            assertEquals(expected, Sha256.of(f), "size " + size);
        }
    }
}

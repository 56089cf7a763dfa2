package io.resilientkvm.engine.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The wire contract: only the canonical form of a repository path is accepted. */
class BackupPathsTest {
    private static final String FILE = "FULL-20261124T100000.000Z.qcow2";

    @TempDir
    Path dir;

    @Test
    void theCanonicalFormRoundTrips() {
        BackupPaths.Ref ref = BackupPaths.parse("/v1/repository/virtio0/20261124T100000.000Z/" + FILE).orElseThrow();
        assertEquals(new BackupPaths.Ref("virtio0", "20261124T100000.000Z", FILE), ref);
        assertFalse(ref.isManifest());
        assertEquals("/v1/repository/virtio0/20261124T100000.000Z/" + FILE, ref.urlPath());
        assertEquals(URI.create("https://10.0.0.1:8443/v1/repository/virtio0/20261124T100000.000Z/" + FILE),
                ref.uri(URI.create("https://10.0.0.1:8443/")));
        assertEquals(dir.resolve("virtio0").resolve("20261124T100000.000Z").resolve(FILE), ref.resolve(dir));
        BackupPaths.Ref manifest = BackupPaths.parse(ref.urlPath() + ".json").orElseThrow();
        assertTrue(manifest.isManifest());
        assertEquals(FILE, manifest.backupFile());
    }

    @Test
    void everyOtherFormIsRejected() {
        String c = "20261124T100000.000Z";
        for (String p : List.of("/v1/repository/../" + c + "/" + FILE, "/v1/repository/virtio0/../" + FILE,
                "/v1/repository/%2e%2e/" + c + "/" + FILE, "/v1/repository/virtio0%2F" + c + "/" + FILE,
                "/v1/repository/virtio0/" + c + "/" + FILE + ".partial", "/v1/repository/virtio0/" + c + "/" + FILE
                        + ".json.tmp", "/v1/repository//virtio0/" + c + "/" + FILE, "/v1/repository/virtio0/" + c
                                + "/x/" + FILE, "/v1/repository/.hidden/" + c + "/" + FILE,
                "/v1/repository/virtio0/" + c + "/CLOSED", "//etc/passwd", "/etc/passwd", "", "/v1/health")) {
            assertTrue(BackupPaths.parse(p).isEmpty(), p);
        }
        assertThrows(IllegalArgumentException.class, () -> new BackupPaths.Ref("..", c, FILE));
        assertThrows(IllegalArgumentException.class, () -> new BackupPaths.Ref("virtio0", c, "../" + FILE));
    }

    @Test
    void secretsAreTheFirstLineAndAnEmptyFileIsBadInput() throws Exception {
        Path f = dir.resolve("token");
        Files.writeString(f, "  abc123  \nignored\n");
        Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        assertEquals("abc123", BackupPaths.readSecret(f, "backup-server.token-file"));
        Files.writeString(f, "\n");
        BadInputException e = assertThrows(BadInputException.class,
                () -> BackupPaths.readSecret(f, "backup-server.token-file"));
        assertTrue(e.getMessage().startsWith("backup-server.token-file"), e.getMessage());
        assertThrows(BadInputException.class, () -> BackupPaths.readSecret(dir.resolve("none"), "x"));
    }
}

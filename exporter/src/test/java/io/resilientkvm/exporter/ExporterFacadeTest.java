package io.resilientkvm.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.exporter.lock.ExporterLock;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The facade's input and connection errors: typed, explained, and the lock is released. */
class ExporterFacadeTest {
    @TempDir
    Path dir;

    @Test
    void unreachableSocketFailsWithExitOneAndReleasesTheLock() throws Exception {
        Path socket = dir.resolve("absent.qmp");
        OperationFailedException e = assertThrows(OperationFailedException.class,
                () -> Exporter.backup(BackupRequest.of(socket, dir.resolve("repo"))));
        assertEquals(ExitStatus.FAILED, e.exitStatus());
        assertTrue(e.getMessage().contains(socket.toString()), e.getMessage());
        try (ExporterLock lock = ExporterLock.acquire(dir.resolve("repo"))) {
            assertTrue(lock.file().toFile().exists());
        }
    }

    @Test
    void missingSocketIsBadInput() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> Exporter.backup(BackupRequest.of(null, dir)));
        assertEquals(2, e.exitStatus().code());
        assertThrows(IllegalArgumentException.class, () -> BackupRequest.of(null, dir).withSpeed(-1));
    }

    @Test
    void bitmapNamesFollowTheSeedConvention() {
        assertEquals("qmpbackup-virtio0-", Exporter.bitmapPrefix("virtio0"));
    }
}

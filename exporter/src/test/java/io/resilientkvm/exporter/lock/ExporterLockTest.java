package io.resilientkvm.exporter.lock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.Exporter;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One exporter per repository: a second one is refused (exit 3) and told who holds the lock. */
class ExporterLockTest {
    @TempDir
    Path dir;

    @Test
    void secondExporterInAnotherProcessIsRefusedNamingTheHolder() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Process holder = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                LockHolder.class.getName(), dir.toString())).redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            assertTrue(line != null && line.startsWith("locked"), "holder said: " + line);

            RefusedException e = assertThrows(RefusedException.class, () -> ExporterLock.acquire(dir));
            assertEquals(ExitStatus.REFUSED, e.exitStatus());
            assertEquals(3, e.exitStatus().code());
            assertTrue(e.getMessage().contains("pid=" + holder.pid()), e.getMessage());

            // The facade refuses before it touches QMP at all.
            RefusedException viaExporter = assertThrows(RefusedException.class,
                    () -> Exporter.backup(BackupRequest.of(dir.resolve("no.qmp"), dir)));
            assertTrue(viaExporter.getMessage().contains("another exporter"), viaExporter.getMessage());
        } finally {
            holder.getOutputStream().close();
            assertTrue(holder.waitFor(30, TimeUnit.SECONDS));
        }
        // Released with its holder: the next exporter gets it.
        try (ExporterLock lock = ExporterLock.acquire(dir)) {
            assertEquals(dir.resolve(ExporterLock.FILE_NAME), lock.file());
        }
    }

    @Test
    void secondExporterInThisProcessIsRefusedToo() throws Exception {
        try (ExporterLock first = ExporterLock.acquire(dir)) {
            RefusedException e = assertThrows(RefusedException.class, () -> ExporterLock.acquire(dir));
            assertTrue(e.getMessage().contains("pid=" + ProcessHandle.current().pid()), e.getMessage());
        }
        try (ExporterLock again = ExporterLock.acquire(dir)) {
            assertTrue(again.file().toFile().exists());
        }
    }
}

package io.resilientkvm.importer.restore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.RefusedException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The repository lock between two real processes (the OS lock, and the holder named from the lock file). */
class RepositoryLockProcessTest {
    @TempDir
    Path repo;

    /** A child JVM holding the lock in {@code mode} until {@link Holder#close()}. */
    final class Holder implements AutoCloseable {
        final Process process;
        final long pid;

        Holder(RepositoryLock.Mode mode, String purpose) throws Exception {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            process = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                    LockHolderMain.class.getName(), repo.toString(), mode.name(), purpose))
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            String line = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readLine();
                } catch (java.io.IOException e) {
                    return "error " + e;
                }
            }).get(60, TimeUnit.SECONDS);
            assertTrue(line != null && line.startsWith("locked "), "child said: " + line);
            pid = Long.parseLong(line.substring("locked ".length()));
        }

        @Override
        public void close() throws Exception {
            process.getOutputStream().close();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
            assertEquals(0, process.exitValue());
        }
    }

    @Test
    void aPruneInAnotherProcessRefusesRestoresNamingItUntilItEnds() throws Exception {
        try (Holder prune = new Holder(RepositoryLock.Mode.EXCLUSIVE, "prune of vda")) {
            RefusedException e = assertThrows(RefusedException.class,
                    () -> RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore", Duration.ofMillis(300)));
            assertTrue(e.getMessage().contains("by another process (last taken exclusive by pid " + prune.pid), e.getMessage());
            assertTrue(e.getMessage().contains("for prune of vda"), e.getMessage());
        }
        try (RepositoryLock restore = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore",
                Duration.ofSeconds(10))) {
            assertEquals(RepositoryLock.Mode.SHARED, restore.mode());
        }
    }

    @Test
    void restoresInTwoProcessesShareAndKeepAPruneOut() throws Exception {
        try (Holder restore = new Holder(RepositoryLock.Mode.SHARED, "restore of vda to /a");
                RepositoryLock here = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore b", Duration.ZERO)) {
            assertThrows(RefusedException.class,
                    () -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "prune", Duration.ofMillis(300)));
            here.close();
            RefusedException e = assertThrows(RefusedException.class,
                    () -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "prune", Duration.ofMillis(300)));
            assertTrue(e.getMessage().contains("by another process"), e.getMessage());
        }
        try (RepositoryLock prune = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "prune",
                Duration.ofSeconds(10))) {
            assertEquals(RepositoryLock.Mode.EXCLUSIVE, prune.mode());
        }
    }
}

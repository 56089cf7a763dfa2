package io.resilientkvm.importer.restore;

import java.nio.file.Path;
import java.time.Duration;

/** A second process for {@link RepositoryLockProcessTest}: takes the lock, says so, holds it until stdin closes. */
public final class LockHolderMain {
    private LockHolderMain() {
    }

    public static void main(String[] args) throws Exception {
        try (RepositoryLock lock = RepositoryLock.acquire(Path.of(args[0]), RepositoryLock.Mode.valueOf(args[1]), args[2],
                Duration.ofSeconds(30))) {
            System.out.println("locked " + ProcessHandle.current().pid());
            System.out.flush();
            while (System.in.read() >= 0) {
                // hold until the parent closes our stdin
            }
        }
    }
}

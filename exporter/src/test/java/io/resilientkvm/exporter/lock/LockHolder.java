package io.resilientkvm.exporter.lock;

import java.nio.file.Path;

/** Run in a child JVM by the tests: holds the exporter lock until its stdin closes. */
public final class LockHolder {
    private LockHolder() {
    }

    public static void main(String[] args) throws Exception {
        try (ExporterLock lock = ExporterLock.acquire(Path.of(args[0]))) {
            System.out.println("locked " + lock.file());
            System.out.flush();
            while (System.in.read() >= 0) {
                // hold until the parent closes our stdin
            }
        }
    }
}

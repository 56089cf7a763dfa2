package io.resilientkvm.importer.transfer;

import java.time.Duration;

/** Waits between attempts; tests inject one that records instead of sleeping. */
@FunctionalInterface
public interface Sleeper {
    /** Sleeps on the calling thread. */
    Sleeper REAL = d -> Thread.sleep(d.toMillis());

    void sleep(Duration d) throws InterruptedException;
}

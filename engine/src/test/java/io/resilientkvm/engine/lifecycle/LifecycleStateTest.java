package io.resilientkvm.engine.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LifecycleStateTest {
    @Test
    void startsOnceAndClosesOnce() {
        LifecycleState s = new LifecycleState("thing");
        assertEquals(LifecycleState.State.LATENT, s.get());
        assertThrows(IllegalStateException.class, s::requireStarted);
        s.markStarted();
        assertTrue(s.isStarted());
        IllegalStateException twice = assertThrows(IllegalStateException.class, s::markStarted);
        assertTrue(twice.getMessage().contains("thing cannot be started: it is started"), twice.getMessage());
        assertTrue(s.markClosed());
        assertFalse(s.markClosed());
        assertThrows(IllegalStateException.class, s::markStarted);
        assertTrue(s.isClosed());
    }

    @Test
    void racingClosersCleanUpOnce() throws Exception {
        LifecycleState s = new LifecycleState("thing");
        s.markStarted();
        AtomicInteger cleanUps = new AtomicInteger();
        CountDownLatch go = new CountDownLatch(1);
        Thread[] threads = new Thread[8];
        for (int i = 0; i < threads.length; i++) {
            threads[i] = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                if (s.markClosed()) {
                    cleanUps.incrementAndGet();
                }
            });
            threads[i].start();
        }
        go.countDown();
        for (Thread t : threads) {
            t.join(10_000);
        }
        assertEquals(1, cleanUps.get());
    }
}

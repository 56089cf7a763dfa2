package io.resilientkvm.engine.time;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.testing.ManualTime;
import io.resilientkvm.engine.testing.TestTiming;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TaskTimerTest {
    @Test
    void theSystemTimerRunsATaskAfterItsDelayAndACancelledOneNever() {
        AtomicInteger ran = new AtomicInteger();
        AtomicInteger cancelledRan = new AtomicInteger();
        try (TaskTimer timer = TaskTimer.system("timer-test")) {
            TaskTimer.Scheduled cancelled = timer.schedule(Duration.ofMillis(100), cancelledRan::incrementAndGet);
            assertTrue(cancelled.cancel());
            timer.schedule(Duration.ofMillis(150), ran::incrementAndGet);
            await().atMost(TestTiming.scaled(Duration.ofSeconds(5))).until(() -> ran.get() == 1);
            assertEquals(0, cancelledRan.get());
        }
    }

    @Test
    void manualTimeRunsATaskExactlyAtItsDeadlineAndNotBefore() {
        ManualTime time = new ManualTime();
        List<String> log = new CopyOnWriteArrayList<>();
        time.schedule(Duration.ofSeconds(2), () -> log.add("bound at " + time.elapsed().toMillis()));
        time.schedule(Duration.ofSeconds(1), () -> log.add("first at " + time.elapsed().toMillis()));
        time.advance(Duration.ofMillis(999));
        assertEquals(List.of(), log);
        time.advance(Duration.ofMillis(1));
        assertEquals(List.of("first at 1000"), log);
        time.advance(Duration.ofMillis(999));
        assertEquals(1, time.pending());
        time.advance(Duration.ofSeconds(5));
        assertEquals(List.of("first at 1000", "bound at 2000"), log, "each task sees the clock at its own deadline");
        assertEquals(Duration.ofMillis(6999), time.elapsed());
        assertEquals(time.elapsed(), Duration.between(new ManualTime().instant(), time.instant()));
    }

    @Test
    void manualTimeCancelsAndRefusesAfterClose() {
        ManualTime time = new ManualTime();
        AtomicInteger ran = new AtomicInteger();
        TaskTimer.Scheduled s = time.schedule(Duration.ofSeconds(1), ran::incrementAndGet);
        assertTrue(s.cancel());
        assertFalse(s.cancel(), "already cancelled");
        time.advance(Duration.ofSeconds(2));
        assertEquals(0, ran.get());
        time.close();
        assertThrows(RejectedExecutionException.class, () -> time.schedule(Duration.ZERO, ran::incrementAndGet));
    }
}

package io.resilientkvm.exporter.schedule;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.testing.TestTiming;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.BackupResult;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class BackupScheduleTest {
    /** Once a year (Jan 1st 00:00): never fires during a test. */
    private static final String RARELY = "0 0 1 1 *";
    private static final BackupResult EMPTY = new BackupResult(List.of());

    private static BackupRequest request(long epoch) {
        return BackupRequest.of(Path.of("/nonexistent/qmp.sock"), Path.of("/nonexistent/repo")).withEpoch(epoch);
    }

    @Test
    void runNowNeverOverlapsARunningBackup() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger concurrent = new AtomicInteger();
        AtomicInteger maxConcurrent = new AtomicInteger();
        AtomicInteger runs = new AtomicInteger();
        BackupRunner blocking = req -> {
            int now = concurrent.incrementAndGet();
            maxConcurrent.accumulateAndGet(now, Math::max);
            runs.incrementAndGet();
            try {
                assertTrue(release.await(10, TimeUnit.SECONDS), "never released");
                return EMPTY;
            } finally {
                concurrent.decrementAndGet();
            }
        };
        List<BackupSchedule.Outcome> outcomes = new CopyOnWriteArrayList<>();
        try (BackupSchedule s = new BackupSchedule(RARELY, () -> request(1), blocking, outcomes::add,
                Duration.ofSeconds(5))) {
            s.runNow();
            await().atMost(Duration.ofSeconds(5)).until(() -> concurrent.get() == 1);
            s.runNow();
            s.runNow();
            // the two extra runs wait for the first: still one running, none finished
            await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2))
                    .until(() -> concurrent.get() == 1 && runs.get() == 1);
            release.countDown();
            await().atMost(Duration.ofSeconds(5)).until(() -> outcomes.size() == 3);
            assertEquals(1, maxConcurrent.get());
            assertEquals(3, runs.get());
            assertTrue(outcomes.stream().allMatch(BackupSchedule.Outcome::succeeded));
            assertSame(EMPTY, s.lastOutcome().orElseThrow().result());
        }
    }

    @Test
    void aFailedRunIsFollowedByASuccessfulOne() {
        AtomicInteger calls = new AtomicInteger();
        AtomicLong epoch = new AtomicLong(1);
        List<Long> epochsSeen = new CopyOnWriteArrayList<>();
        BackupRunner flaky = req -> {
            epochsSeen.add(req.epoch());
            if (calls.incrementAndGet() == 1) {
                throw new IllegalStateException("QEMU went away");
            }
            return EMPTY;
        };
        try (BackupSchedule s = new BackupSchedule(RARELY, () -> request(epoch.get()), flaky)) {
            assertTrue(s.lastOutcome().isEmpty());
            s.runNow();
            await().atMost(Duration.ofSeconds(5)).until(() -> s.lastOutcome().isPresent());
            BackupSchedule.Outcome failed = s.lastOutcome().orElseThrow();
            assertFalse(failed.succeeded());
            assertNull(failed.result());
            assertEquals("QEMU went away", failed.error().getMessage());
            assertFalse(failed.finished().isBefore(failed.started()));

            epoch.set(2); // the request is asked for anew at each run
            s.runNow();
            await().atMost(Duration.ofSeconds(5))
                    .until(() -> s.lastOutcome().map(BackupSchedule.Outcome::succeeded).orElse(false));
            assertSame(EMPTY, s.lastOutcome().orElseThrow().result());
            assertEquals(List.of(1L, 2L), epochsSeen);
            assertTrue(s.nextFireTime().isPresent(), "the scheduler survived the failure");
        }
    }

    @Test
    void aFailingListenerDoesNotStopTheSchedule() {
        AtomicInteger calls = new AtomicInteger();
        try (BackupSchedule s = new BackupSchedule(RARELY, () -> request(0), req -> {
            calls.incrementAndGet();
            return EMPTY;
        }, o -> {
            throw new IllegalStateException("listener bug");
        }, Duration.ofSeconds(5))) {
            s.runNow();
            await().atMost(Duration.ofSeconds(5)).until(() -> s.lastOutcome().isPresent());
            s.runNow();
            await().atMost(Duration.ofSeconds(5)).until(() -> calls.get() == 2);
        }
    }

    @Test
    void everyMinuteFiresWithinAMinute() {
        try (BackupSchedule s = new BackupSchedule("* * * * *", () -> request(0), req -> EMPTY)) {
            assertEquals("0 * * * * ?", s.quartzCron());
            Instant next = s.nextFireTime().orElseThrow();
            Instant now = Instant.now();
            assertTrue(next.isAfter(now.minusSeconds(1)), next + " vs " + now);
            assertTrue(!next.isAfter(now.plusSeconds(60)), next + " vs " + now);
        }
    }

    @Test
    void theNextRunIsTheCronsFirstTimeStrictlyAfterTheInjectedNow() {
        // Quarter hours: the same instants in every time zone Quartz could use here. After the
        // trigger's own start (the real now), as Quartz counts fire times from there.
        Instant boundary = Instant.parse("2031-05-01T10:15:00Z");
        AtomicReference<Instant> now = new AtomicReference<>(boundary.minusMillis(1));
        try (BackupSchedule s = new BackupSchedule("*/15 * * * *", () -> request(0), req -> EMPTY, null,
                BackupSchedule.DEFAULT_CLOSE_TIMEOUT, now::get)) {
            assertEquals(boundary, s.nextFireTime().orElseThrow(), "just before the boundary, the boundary is next");
            now.set(boundary);
            assertEquals(boundary.plus(Duration.ofMinutes(15)), s.nextFireTime().orElseThrow(), "at the boundary, the one after");
        }
    }

    @Test
    void anOutcomeIsStampedByTheInjectedClock() {
        Instant t0 = Instant.parse("2031-05-01T10:00:00Z");
        AtomicReference<Instant> now = new AtomicReference<>(t0);
        try (BackupSchedule s = new BackupSchedule(RARELY, () -> request(0), req -> {
            now.set(t0.plusSeconds(42)); // the backup "takes" 42 s of the schedule's clock
            return EMPTY;
        }, null, BackupSchedule.DEFAULT_CLOSE_TIMEOUT, now::get)) {
            s.runNow();
            await().atMost(TestTiming.scaled(Duration.ofSeconds(5))).until(() -> s.lastOutcome().isPresent());
            BackupSchedule.Outcome o = s.lastOutcome().orElseThrow();
            assertEquals(t0, o.started());
            assertEquals(t0.plusSeconds(42), o.finished());
        }
    }

    @Test
    void defaultIsHourly() {
        try (BackupSchedule s = new BackupSchedule(CronExpressions.HOURLY, () -> request(0), req -> EMPTY)) {
            Instant next = s.nextFireTime().orElseThrow();
            assertTrue(!next.isAfter(Instant.now().plus(Duration.ofHours(1))), next.toString());
        }
    }

    @Test
    void closeIsIdempotentAndStopsFurtherRuns() {
        AtomicInteger calls = new AtomicInteger();
        BackupSchedule s = new BackupSchedule(RARELY, () -> request(0), req -> {
            calls.incrementAndGet();
            return EMPTY;
        });
        s.runNow();
        await().atMost(Duration.ofSeconds(5)).until(() -> calls.get() == 1);
        s.close();
        s.close();
        assertTrue(s.isClosed());
        assertTrue(s.nextFireTime().isEmpty());
        assertThrows(IllegalStateException.class, s::runNow);
        await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(1)).until(() -> calls.get() == 1);
    }

    @Test
    void closeWaitsForTheRunningBackup() {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger finished = new AtomicInteger();
        BackupSchedule s = new BackupSchedule(RARELY, () -> request(0), req -> {
            started.countDown();
            assertTrue(release.await(10, TimeUnit.SECONDS));
            finished.incrementAndGet();
            return EMPTY;
        }, null, Duration.ofSeconds(5));
        s.runNow();
        await().atMost(Duration.ofSeconds(5)).until(() -> started.getCount() == 0);
        Thread releaser = new Thread(() -> {
            await().atMost(Duration.ofSeconds(5)).until(s::isClosed);
            release.countDown();
        });
        releaser.start();
        s.close();
        assertEquals(1, finished.get(), "close returned before the running backup finished");
        assertTrue(s.lastOutcome().isPresent());
    }

    @Test
    void closeInterruptsABackupRunningPastTheTimeout() {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch never = new CountDownLatch(1);
        BackupSchedule s = new BackupSchedule(RARELY, () -> request(0), req -> {
            started.countDown();
            never.await();
            return EMPTY;
        }, null, Duration.ofMillis(200));
        s.runNow();
        await().atMost(Duration.ofSeconds(5)).until(() -> started.getCount() == 0);
        s.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> s.lastOutcome().isPresent());
        assertTrue(s.lastOutcome().orElseThrow().error() instanceof InterruptedException);
    }

    @Test
    void invalidCronIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new BackupSchedule("61 * * * *", () -> request(0), req -> EMPTY));
        assertTrue(e.getMessage().contains("minute"), e.getMessage());
    }
}

package io.resilientkvm.exporter.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.engine.error.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Without resiliency-backup-periodicity: a random daily time, chosen once per instance and kept (as the seed does). */
class BackupTimeTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-12-01T09:00:00Z"), ZoneOffset.UTC);

    @TempDir
    Path dir;

    /** Answers nextInt(bound) with the given values in turn and records the bounds it was asked for. */
    static final class Scripted implements RandomGenerator {
        final List<Integer> values;
        final List<Integer> bounds = new ArrayList<>();

        Scripted(Integer... values) {
            this.values = new ArrayList<>(List.of(values));
        }

        @Override
        public int nextInt(int bound) {
            bounds.add(bound);
            return values.remove(0);
        }

        @Override
        public long nextLong() {
            throw new AssertionError("only nextInt(bound) is expected");
        }
    }

    @Test
    void chosenOnceRecordedAndKeptAcrossRestarts() throws Exception {
        Path etc = dir.resolve("etc");
        Scripted first = new Scripted(4 * 60 + 23);
        BackupTime chosen = BackupTime.resolve(Optional.empty(), etc, first, CLOCK);
        assertEquals("23 4 * * *", chosen.cron());
        assertEquals(List.of(24 * 60), first.bounds, "any minute of the day");
        Path file = etc.resolve(BackupTime.FILE);
        assertEquals(Optional.of(file), chosen.chosenIn());
        JsonNode recorded = new ObjectMapper().readTree(Files.readString(file));
        assertEquals(1, recorded.path("format-version").asInt());
        assertEquals(4, recorded.path("hour").asInt());
        assertEquals(23, recorded.path("minute").asInt());
        assertEquals("2026-12-01T09:00:00Z", recorded.path("chosen-at").asText());
        assertFalse(Files.exists(etc.resolve(BackupTime.FILE + ".tmp")));

        // A restart reads it back and draws nothing.
        Scripted second = new Scripted(17);
        BackupTime again = BackupTime.resolve(Optional.empty(), etc, second, CLOCK);
        assertEquals(chosen, again);
        assertTrue(second.bounds.isEmpty(), "a kept time is not drawn again");
        assertEquals("cron '23 4 * * *' (daily at 04:23 host time, chosen at random once and kept in " + file + ")",
                again.describe());
    }

    @Test
    void theWholeDayIsReachable() throws Exception {
        assertEquals("0 0 * * *", BackupTime.resolve(Optional.empty(), dir.resolve("a"), new Scripted(0), CLOCK).cron());
        assertEquals("59 23 * * *", BackupTime.resolve(Optional.empty(), dir.resolve("b"), new Scripted(1439), CLOCK).cron());
        // Every cron it makes is one the schedule runs.
        assertEquals("0 59 23 * * ?", CronExpressions.toQuartz("59 23 * * *"));
    }

    @Test
    void anExplicitPeriodicityWinsAndRecordsNothing() throws Exception {
        Path etc = dir.resolve("etc");
        Scripted random = new Scripted();
        BackupTime given = BackupTime.resolve(Optional.of("*/15 * * * *"), etc, random, CLOCK);
        assertEquals(new BackupTime("*/15 * * * *", Optional.empty()), given);
        assertEquals("cron '*/15 * * * *' (resiliency-backup-periodicity)", given.describe());
        assertFalse(Files.exists(etc.resolve(BackupTime.FILE)));
        assertTrue(random.bounds.isEmpty());

        // Also over a time chosen before: the parameter is the operator's decision.
        BackupTime.resolve(Optional.empty(), etc, new Scripted(100), CLOCK);
        assertEquals("@hourly", BackupTime.resolve(Optional.of("@hourly"), etc, new Scripted(), CLOCK).cron());
    }

    @Test
    void aDamagedFileIsRefusedNotReplaced() throws Exception {
        Path etc = Files.createDirectories(dir.resolve("etc"));
        Path file = etc.resolve(BackupTime.FILE);
        for (String bad : List.of("{\"format-version\": 1, \"hour\": 24, \"minute\": 0}", "{\"format-version\": 2, \"hour\": 1, \"minute\": 0}",
                "23 4 * * *")) {
            Files.writeString(file, bad);
            BadInputException e = assertThrows(BadInputException.class,
                    () -> BackupTime.resolve(Optional.empty(), etc, new Scripted(5), CLOCK));
            assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
            assertTrue(e.getMessage().endsWith("delete it to choose a new random time, or set resiliency-backup-periodicity"),
                    e.getMessage());
            assertEquals(bad, Files.readString(file), "left as it was");
        }
    }
}

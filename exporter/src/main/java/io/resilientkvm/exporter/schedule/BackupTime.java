package io.resilientkvm.exporter.schedule;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Objects;
import java.util.Optional;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cron a VM's backups run on. An explicit {@code resiliency-backup-periodicity} wins. Without it,
 * as the seed system does, backups run once a day at a time of day chosen at random once per instance
 * and kept, so that many instances on a host do not all back up at the same minute.
 *
 * <p>The chosen time is recorded in {@code <instance>/etc/.backup-time} (JSON, {@code format-version} 1,
 * {@code hour}, {@code minute}, {@code chosen-at}), written through {@link AtomicFiles} before the schedule
 * starts, and read back on every later start. A damaged file is refused, never silently replaced: a new
 * random time would move the instance's backups without anyone deciding it. The time is the host's local
 * time, as for any cron expression here.
 *
 * @param cron      unix 5-field cron for {@link BackupSchedule}
 * @param chosenIn  the file holding the randomly chosen time; empty when the periodicity parameter was given
 */
public record BackupTime(String cron, Optional<Path> chosenIn) {
    /** The file under the instance's {@code etc/}. */
    public static final String FILE = ".backup-time";
    public static final int FORMAT_VERSION = 1;
    private static final Logger LOG = LoggerFactory.getLogger(BackupTime.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    public BackupTime {
        Objects.requireNonNull(cron, "cron");
        Objects.requireNonNull(chosenIn, "chosenIn");
    }

    /** {@link #resolve(Optional, Path, RandomGenerator, Clock)} with a {@link SecureRandom} and the system clock. */
    public static BackupTime resolve(Optional<String> periodicity, Path etcDir) throws OperatorException {
        return resolve(periodicity, etcDir, new SecureRandom(), Clock.systemUTC());
    }

    /**
     * The given periodicity, else the time recorded in {@code etcDir}, else a time chosen now with
     * {@code random} and recorded there (the directory is created if needed).
     *
     * @throws BadInputException        the recorded file is damaged
     * @throws OperationFailedException the file cannot be read or written
     */
    public static BackupTime resolve(Optional<String> periodicity, Path etcDir, RandomGenerator random, Clock clock)
            throws OperatorException {
        if (periodicity.isPresent() && !periodicity.get().isBlank()) {
            return new BackupTime(periodicity.get().strip(), Optional.empty());
        }
        Path file = etcDir.resolve(FILE);
        if (Files.exists(file)) {
            return new BackupTime(read(file), Optional.of(file));
        }
        int minuteOfDay = random.nextInt(24 * 60);
        int hour = minuteOfDay / 60;
        int minute = minuteOfDay % 60;
        String content = JSON.createObjectNode().put("format-version", FORMAT_VERSION).put("hour", hour).put("minute", minute)
                .put("chosen-at", clock.instant().toString()).toString() + "\n";
        try {
            Files.createDirectories(etcDir);
            AtomicFiles.writeAtomically(file, content);
        } catch (IOException e) {
            throw new OperationFailedException("cannot record the chosen backup time in " + file + ": " + e
                    + "; check that the directory is writable, or set resiliency-backup-periodicity", e);
        }
        LOG.info("No resiliency-backup-periodicity: backups run daily at {}, chosen at random and kept in {}",
                String.format("%02d:%02d", hour, minute), file);
        return new BackupTime(cron(hour, minute), Optional.of(file));
    }

    /** For logs and status: the cron and where it comes from. */
    public String describe() {
        if (chosenIn.isEmpty()) {
            return "cron '" + cron + "' (resiliency-backup-periodicity)";
        }
        String[] f = cron.split(" ");
        return "cron '" + cron + "' (daily at " + String.format("%02d:%02d", Integer.parseInt(f[1]), Integer.parseInt(f[0]))
                + " host time, chosen at random once and kept in " + chosenIn.get() + ")";
    }

    private static String cron(int hour, int minute) {
        return minute + " " + hour + " * * *";
    }

    private static String read(Path file) throws OperatorException {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new OperationFailedException("cannot read the backup time in " + file + ": " + e + "; check its permissions", e);
        }
        String fix = ": fix it (e.g. {\"format-version\": 1, \"hour\": 3, \"minute\": 17}), delete it to choose a new random"
                + " time, or set resiliency-backup-periodicity";
        JsonNode n;
        try {
            n = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new BadInputException(file + ": not JSON (" + e.getOriginalMessage() + ")" + fix);
        }
        if (n == null || !n.isObject() || n.path("format-version").asInt(-1) != FORMAT_VERSION) {
            throw new BadInputException(file + ": format-version " + (n == null ? "missing" : n.path("format-version"))
                    + ", this version reads " + FORMAT_VERSION + fix);
        }
        JsonNode hour = n.path("hour");
        JsonNode minute = n.path("minute");
        if (!hour.isInt() || hour.asInt() < 0 || hour.asInt() > 23 || !minute.isInt() || minute.asInt() < 0 || minute.asInt() > 59) {
            throw new BadInputException(file + ": hour " + hour + " and minute " + minute + " must be integers 0-23 and 0-59" + fix);
        }
        return cron(hour.asInt(), minute.asInt());
    }
}

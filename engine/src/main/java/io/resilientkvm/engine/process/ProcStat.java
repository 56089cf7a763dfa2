package io.resilientkvm.engine.process;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A process as {@code /proc/PID/stat} shows it: its state letter ({@code R}, {@code S}, {@code T}
 * when stopped by a signal...) and its start time in clock ticks since boot, which together with
 * the pid names one process: a recycled pid has another start time.
 */
public record ProcStat(long pid, char state, long startTime) {

    /** The process {@code pid} now, or empty when there is none. */
    public static Optional<ProcStat> read(long pid) throws IOException {
        String line;
        try {
            line = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        return Optional.of(parse(pid, line));
    }

    static ProcStat parse(long pid, String line) throws IOException {
        // The command name (field 2) is in parentheses and may hold spaces and parentheses: fields count from the last ')'.
        int end = line.lastIndexOf(')');
        if (end < 0 || end + 2 >= line.length()) {
            throw new IOException("unreadable /proc/" + pid + "/stat: " + line);
        }
        String[] rest = line.substring(end + 2).trim().split(" ");
        if (rest.length < 20) {
            throw new IOException("short /proc/" + pid + "/stat: " + line);
        }
        try {
            return new ProcStat(pid, rest[0].charAt(0), Long.parseLong(rest[19]));
        } catch (NumberFormatException e) {
            throw new IOException("unreadable start time in /proc/" + pid + "/stat: " + line, e);
        }
    }

    /** Stopped by a signal (SIGSTOP): {@code T}; {@code t} is a tracer's stop. */
    public boolean stopped() {
        return state == 'T' || state == 't';
    }
}

package io.resilientkvm.engine.params;

import java.time.Duration;
import java.time.Instant;
import java.time.Period;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;

/**
 * An age in the rdiff-backup style the seed uses for {@code remove-backup-older-than}:
 * a number and a unit, {@code s m h D W M Y} (e.g. {@code 10D}, {@code 2W}, {@code 3M}).
 * Months and years are calendar months and years, counted back from a given instant.
 */
public record RetentionAge(long amount, char unit) {
    public RetentionAge {
        if (amount <= 0) {
            throw new IllegalArgumentException("a retention age must be positive, got " + amount);
        }
        if ("smhDWMY".indexOf(unit) < 0) {
            throw new IllegalArgumentException("unknown retention unit '" + unit + "': use s, m, h, D, W, M or Y");
        }
    }

    public static RetentionAge parse(String text) {
        if (text == null || !text.matches("[1-9][0-9]*[smhDWMY]")) {
            throw new IllegalArgumentException("'" + text + "' is not an age such as 10D, 2W or 3M");
        }
        return new RetentionAge(Long.parseLong(text.substring(0, text.length() - 1)), text.charAt(text.length() - 1));
    }

    /** The instant {@code this} age before {@code now}: backups made before it are older than this age. */
    public Instant before(Instant now) {
        ZonedDateTime at = now.atZone(ZoneOffset.UTC);
        return switch (unit) {
            case 's' -> now.minus(Duration.ofSeconds(amount));
            case 'm' -> now.minus(Duration.ofMinutes(amount));
            case 'h' -> now.minus(Duration.ofHours(amount));
            case 'D' -> at.minus(Period.ofDays(Math.toIntExact(amount))).toInstant();
            case 'W' -> at.minus(Period.ofWeeks(Math.toIntExact(amount))).toInstant();
            case 'M' -> at.minus(Period.ofMonths(Math.toIntExact(amount))).toInstant();
            default -> at.minus(Period.ofYears(Math.toIntExact(amount))).toInstant();
        };
    }

    @Override
    public String toString() {
        return amount + String.valueOf(unit);
    }
}

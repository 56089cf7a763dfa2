package io.resilientkvm.exporter.schedule;

import java.time.LocalDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The reference for the schedule tests: Vixie cron's meaning of a crontab time spec (ISC cron 4.1
 * as Debian ships it), written from its {@code entry.c}/{@code cron.c} and independently of
 * {@link CronExpressions}, and evaluated by brute force, minute by minute.
 *
 * <p>The rules it encodes: fields are lists of {@code *}, {@code N} or {@code N-M}, the star and
 * the ranges optionally {@code /STEP} (a step after a single number is refused, as Debian does);
 * three-letter names (any case) in month and day-of-week, also inside ranges; day-of-week 0-7
 * where 7 is Sunday too; and the day rule: when either day field <em>begins with</em> {@code *}
 * a day must match both, otherwise either ({@code 0 0 1,15 * 1} runs on the 1st, the 15th and
 * every Monday; {@code 0 0 *}{@code /2 * 1} only on odd-numbered Mondays). Macros are
 * case-sensitive, as Vixie's {@code strcmp}; {@code @reboot} has no time and is refused here.
 */
record VixieCron(BitSet minutes, BitSet hours, BitSet daysOfMonth, BitSet months, BitSet daysOfWeek,
        boolean domStar, boolean dowStar) {

    private static final Map<String, String> MACROS = Map.of(
            "@yearly", "0 0 1 1 *", "@annually", "0 0 1 1 *", "@monthly", "0 0 1 * *",
            "@weekly", "0 0 * * 0", "@daily", "0 0 * * *", "@midnight", "0 0 * * *", "@hourly", "0 * * * *");
    private static final List<String> MONTHS = List.of("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
            "sep", "oct", "nov", "dec");
    private static final List<String> DAYS = List.of("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun");
    private static final Pattern ITEM = Pattern.compile("(?:(\\*)|([0-9a-z]+)(?:-([0-9a-z]+))?)(?:/([0-9]+))?");

    /** Parses a 5-field spec or a macro; throws IllegalArgumentException where Vixie cron refuses. */
    static VixieCron parse(String spec) {
        String s = spec.trim();
        if (s.startsWith("@")) {
            String expanded = MACROS.get(s);
            if (expanded == null) {
                throw new IllegalArgumentException("not a timed Vixie macro: " + s);
            }
            s = expanded;
        }
        String[] f = s.split("[ \t]+");
        if (f.length != 5) {
            throw new IllegalArgumentException(f.length + " fields");
        }
        BitSet dow = field(f[4], 0, 7, DAYS);
        if (dow.get(0) || dow.get(7)) {
            dow.set(0);
            dow.set(7);
        }
        return new VixieCron(field(f[0], 0, 59, List.of()), field(f[1], 0, 23, List.of()),
                field(f[2], 1, 31, List.of()), field(f[3], 1, 12, MONTHS), dow,
                f[2].startsWith("*"), f[4].startsWith("*"));
    }

    private static BitSet field(String text, int low, int high, List<String> names) {
        BitSet bits = new BitSet();
        for (String item : text.split(",", -1)) {
            Matcher m = ITEM.matcher(item.toLowerCase(Locale.ROOT));
            if (!m.matches()) {
                throw new IllegalArgumentException("bad item '" + item + "'");
            }
            int from;
            int to;
            if (m.group(1) != null) {
                from = low;
                to = high;
            } else {
                from = number(m.group(2), low, high, names);
                to = m.group(3) == null ? from : number(m.group(3), low, high, names);
                if (m.group(3) == null && m.group(4) != null) {
                    throw new IllegalArgumentException("step after a single number: " + item);
                }
                if (from > to) {
                    throw new IllegalArgumentException("backwards range: " + item);
                }
            }
            int step = m.group(4) == null ? 1 : Integer.parseInt(m.group(4));
            if (step == 0) {
                throw new IllegalArgumentException("step 0: " + item);
            }
            for (int i = from; i <= to; i += step) {
                bits.set(i);
            }
        }
        return bits;
    }

    private static int number(String token, int low, int high, List<String> names) {
        int v;
        if (token.chars().allMatch(Character::isDigit)) {
            v = Integer.parseInt(token);
        } else {
            int idx = names.indexOf(token);
            if (idx < 0) {
                throw new IllegalArgumentException("not a number nor a name: " + token);
            }
            v = low + idx;
        }
        if (v < low || v > high) {
            throw new IllegalArgumentException("out of range: " + token);
        }
        return v;
    }

    boolean dayMatches(LocalDateTime t) {
        boolean dom = daysOfMonth.get(t.getDayOfMonth());
        boolean dow = daysOfWeek.get(t.getDayOfWeek().getValue() % 7);
        return months.get(t.getMonthValue()) && (domStar || dowStar ? dom && dow : dom || dow);
    }

    /** The next {@code n} minutes strictly after {@code from} that match, searched up to 40 years ahead. */
    List<LocalDateTime> next(LocalDateTime from, int n) {
        List<LocalDateTime> out = new ArrayList<>();
        LocalDateTime t = from.truncatedTo(ChronoUnit.MINUTES).plusMinutes(1);
        LocalDateTime horizon = from.plusYears(40);
        while (out.size() < n && t.isBefore(horizon)) {
            if (!dayMatches(t)) {
                t = t.toLocalDate().plusDays(1).atStartOfDay();
            } else if (!hours.get(t.getHour())) {
                t = t.truncatedTo(ChronoUnit.HOURS).plusHours(1);
            } else {
                if (minutes.get(t.getMinute())) {
                    out.add(t);
                }
                t = t.plusMinutes(1);
            }
        }
        return out;
    }
}

package io.resilientkvm.exporter.schedule;

import java.text.ParseException;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Objects;
import java.util.TimeZone;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.quartz.CronExpression;

/**
 * The cron forms the schedule is checked on, with their reference meaning: the seed's (SlapOS's
 * {@code resiliency-backup-periodicity}, default {@code 0 * * * *}, a user crontab line), Vixie
 * cron's (evaluated by {@link VixieCron}), this project's {@code @every} extension, and forms
 * Vixie cron refuses. All times are UTC, from a fixed instant: Tuesday 2024-02-27 13:07:30, two
 * days before a leap day.
 */
final class CronForms {
    static final LocalDateTime FROM = LocalDateTime.of(2024, 2, 27, 13, 7, 30);
    static final int FIRES = 6;

    /** One form: the expression, what it is, and what it must do. */
    record Form(String expr, String kind, String meaning) {
        @Override
        public String toString() {
            return "'" + expr + "'";
        }
    }

    /** What an implementation did with a form, against the reference. */
    enum Verdict {
        /** same next fire times as the reference, or refused where the reference refuses */
        CORRECT,
        /** refused a form the reference runs (no schedule is silently changed) */
        REFUSED,
        /** other fire times than the reference, or accepted a form the reference refuses */
        WRONG
    }

    /** Next fire times of an expression; throws IllegalArgumentException when it refuses it. */
    @FunctionalInterface
    interface Implementation {
        List<LocalDateTime> next(String expr, LocalDateTime from, int n);
    }

    static final List<Form> ALL = List.of(
            new Form("0 * * * *", "seed", "SlapOS default: every hour on the hour"),
            new Form("30 2 * * *", "seed", "daily at 02:30 (the form of a random daily time)"),
            new Form("*/15 * * * *", "vixie", "minutes 0,15,30,45"),
            new Form("1-10/2 * * * *", "vixie", "minutes 1,3,5,7,9"),
            new Form("5,35 */6 * * *", "vixie", "list and hour step: 00:05, 00:35, 06:05 ..."),
            new Form("0-30/15 1-5 * * *", "vixie", "stepped range in minutes, range in hours"),
            new Form("0 9 * * mon-fri", "vixie", "names in a day-of-week range: weekdays 09:00"),
            new Form("0 9 * * Sat,SUN", "vixie", "names in any case, in a list"),
            new Form("0 0 1 jan *", "vixie", "month name"),
            new Form("0 0 1 feb-apr *", "vixie", "month name range"),
            new Form("0 3 * * 0", "vixie", "0 is Sunday"),
            new Form("0 3 * * 7", "vixie", "7 is Sunday too"),
            new Form("0 3 * * 5-7", "vixie", "Friday to Sunday through 7"),
            new Form("0 3 * * */2", "vixie", "day-of-week step over 0-7: Sun, Tue, Thu, Sat"),
            new Form("0 3 * * 0-7", "vixie", "0-7: every day"),
            new Form("0 3 * * 1-7", "vixie", "Monday to Sunday through 7: every day"),
            new Form("0 3 * * 0,7", "vixie", "both Sundays: Sundays"),
            new Form("0 0 */10 * *", "vixie", "day-of-month step: 1, 11, 21, 31"),
            new Form("0 0 * */5 *", "vixie", "month step: Jan, Jun, Nov"),
            new Form("0 0 29 2 *", "vixie", "leap day only"),
            new Form("0 0 31 * *", "vixie", "only months with a 31st"),
            new Form("@hourly", "vixie", "0 * * * *"),
            new Form("@daily", "vixie", "0 0 * * *"),
            new Form("@midnight", "vixie", "0 0 * * *"),
            new Form("@weekly", "vixie", "0 0 * * 0"),
            new Form("@monthly", "vixie", "0 0 1 * *"),
            new Form("@yearly", "vixie", "0 0 1 1 *"),
            new Form("@annually", "vixie", "0 0 1 1 *"),
            new Form("0 0 1,15 * 1", "vixie", "both days restricted: the 1st, the 15th OR any Monday"),
            new Form("0 0 1-7 * 1", "vixie", "both restricted: days 1-7 OR any Monday (not 'first Monday')"),
            new Form("0 0 */2 * 1", "vixie", "day-of-month begins with *: odd days AND Mondays"),
            new Form("0 0 1 * */2", "vixie", "day-of-week begins with *: the 1st AND Sun/Tue/Thu/Sat"),
            new Form("0 0 1-31 * 1", "vixie", "both restricted, 1-31 covers every day: every day"),
            new Form("0 0 13 * 0-7", "vixie", "both restricted, 0-7 covers every day: every day"),
            new Form("0 0 */1 * mon", "vixie", "day-of-month */1 (begins with *, all days): Mondays"),
            new Form("@every 20s", "extension", "every 20 s from :00"),
            new Form("@every 5m", "extension", "every 5 min from :00"),
            new Form("@reboot", "refused", "no time: at cron's start, which a schedule cannot mean"),
            new Form("60 * * * *", "refused", "minute out of range"),
            new Form("0 24 * * *", "refused", "hour out of range"),
            new Form("0 0 0 * *", "refused", "day-of-month out of range"),
            new Form("0 0 * 13 *", "refused", "month out of range"),
            new Form("0 0 * * 8", "refused", "day-of-week out of range"),
            new Form("*/0 * * * *", "refused", "step 0"),
            new Form("0 0 * *", "refused", "4 fields"),
            new Form("0 0 0 * * *", "refused", "6 fields (a Quartz habit)"),
            new Form("0 0 ? * 1", "refused", "Quartz '?'"),
            new Form("0 0 L * *", "refused", "Quartz 'L'"),
            new Form("0 0 * * 5#3", "refused", "Quartz '#'"),
            new Form("@sometimes", "refused", "unknown macro"));

    private static final Pattern EVERY = Pattern.compile("@every ([0-9]+)([sm])");

    private CronForms() {
    }

    /** The reference: Vixie cron for crontab forms, the documented meaning for {@code @every}. */
    static List<LocalDateTime> reference(String expr, LocalDateTime from, int n) {
        Matcher every = EVERY.matcher(expr);
        if (!every.matches()) {
            return VixieCron.parse(expr).next(from, n);
        }
        int amount = Integer.parseInt(every.group(1));
        boolean seconds = every.group(2).equals("s");
        List<LocalDateTime> out = new ArrayList<>();
        LocalDateTime t = from.withNano(0).plusSeconds(1);
        while (out.size() < n) {
            if (seconds ? t.getSecond() % amount == 0 : t.getSecond() == 0 && t.getMinute() % amount == 0) {
                out.add(t);
            }
            t = t.plusSeconds(1);
        }
        return out;
    }

    /** Next fire times of a Quartz expression in UTC; an invalid one counts as refused. */
    static List<LocalDateTime> quartz(String quartzExpr, LocalDateTime from, int n) {
        CronExpression e;
        try {
            e = new CronExpression(quartzExpr);
        } catch (ParseException ex) {
            throw new IllegalArgumentException("Quartz refuses '" + quartzExpr + "': " + ex.getMessage(), ex);
        }
        e.setTimeZone(TimeZone.getTimeZone(ZoneOffset.UTC));
        List<LocalDateTime> out = new ArrayList<>();
        Date t = Date.from(from.toInstant(ZoneOffset.UTC));
        while (out.size() < n) {
            t = e.getNextValidTimeAfter(t);
            if (t == null) {
                break;
            }
            out.add(LocalDateTime.ofInstant(t.toInstant(), ZoneOffset.UTC));
        }
        return out;
    }

    /** CronExpressions, through the Quartz expression the schedule runs on. */
    static List<LocalDateTime> cronExpressions(String expr, LocalDateTime from, int n) {
        return quartz(CronExpressions.toQuartz(expr), from, n);
    }

    /** Compares an implementation with the reference on one form. */
    static Verdict judge(Implementation impl, Form form) {
        List<LocalDateTime> expected = refusedOrNull(CronForms::reference, form.expr());
        List<LocalDateTime> actual = refusedOrNull(impl, form.expr());
        if (expected == null) {
            return actual == null ? Verdict.CORRECT : Verdict.WRONG;
        }
        if (actual == null) {
            return Verdict.REFUSED;
        }
        return Objects.equals(expected, actual) ? Verdict.CORRECT : Verdict.WRONG;
    }

    /** The fire times, or null when refused; any other exception is a bug of the implementation. */
    static List<LocalDateTime> refusedOrNull(Implementation impl, String expr) {
        try {
            return impl.next(expr, FROM, FIRES);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}

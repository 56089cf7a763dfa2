package io.resilientkvm.exporter.schedule;

import java.text.ParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.quartz.CronExpression;

/**
 * Converts the unix 5-field cron of SlapOS's {@code resiliency-backup-periodicity} (minute hour
 * day-of-month month day-of-week; see {@link BackupTime} for its default) to the Quartz 6-field form
 * ({@code second minute hour day-of-month month day-of-week}) the schedule runs on.
 *
 * <p>Why a converter: Quartz differs from cron in ways that silently change a schedule: it has a
 * seconds field, numbers Sunday 1 (cron 0 or 7), and needs {@code ?} in one of the two day
 * fields. Supported: {@code *}, values, names ({@code JAN}-{@code DEC}, {@code SUN}-{@code SAT}),
 * ranges, steps ({@code *}{@code /10}, {@code 1-30/5}, {@code 5/10}), lists, and the macros
 * {@code @hourly @daily @midnight @weekly @monthly @yearly @annually}. Both day fields follow
 * Vixie cron: when either begins with {@code *} a day must match both, otherwise either; a field
 * that covers every day ({@code 1-31}, {@code 0-7}, {@code *}{@code /1}) then drops out, and what
 * is left with both fields restricted cannot be expressed in Quartz and is refused. Checked
 * against a brute-force Vixie reference in {@code CronFormsTest}; see docs/exporter.md for why
 * this is not cron-utils.
 */
public final class CronExpressions {
    /** Every hour on the hour. */
    public static final String HOURLY = "0 * * * *";

    private static final Map<String, String> MACROS = Map.of(
            "@hourly", "0 * * * *",
            "@daily", "0 0 * * *",
            "@midnight", "0 0 * * *",
            "@weekly", "0 0 * * 0",
            "@monthly", "0 0 1 * *",
            "@yearly", "0 0 1 1 *",
            "@annually", "0 0 1 1 *");

    private static final List<String> MONTHS = List.of("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
            "SEP", "OCT", "NOV", "DEC");
    private static final List<String> DAYS = List.of("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT");

    private enum Field {
        MINUTE("minute", 0, 59, List.of()),
        HOUR("hour", 0, 23, List.of()),
        DAY_OF_MONTH("day-of-month", 1, 31, List.of()),
        MONTH("month", 1, 12, MONTHS),
        DAY_OF_WEEK("day-of-week", 0, 7, DAYS);

        final String label;
        final int min;
        final int max;
        /** Names, the first one standing for {@link #min}. */
        final List<String> names;

        Field(String label, int min, int max, List<String> names) {
            this.label = label;
            this.min = min;
            this.max = max;
            this.names = names;
        }
    }

    /** One list item: {@code start-end/step}; a star has start min, end max. */
    private record Item(boolean star, int start, int end, boolean endGiven, int step) {
    }

    /** {@code @every 20s} / {@code @every 5m}: short fixed periods for drills and labs. */
    private static final java.util.regex.Pattern EVERY = java.util.regex.Pattern.compile("@every\\s+([0-9]+)([sm])");

    private CronExpressions() {
    }

    private static String every(String expr, int amount, String unit) {
        if (amount < 1 || amount > 59 || 60 % amount != 0) {
            throw new IllegalArgumentException("'" + expr + "': the period must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20,"
                    + " 30) so that runs stay evenly spaced; use a cron expression for other periods");
        }
        return "s".equals(unit) ? "0/" + amount + " * * * * ?" : "0 0/" + amount + " * * * ?";
    }

    /**
     * Converts a unix 5-field cron expression to a Quartz one, for example {@code 30 2 * * 1-5}
     * to {@code 0 30 2 ? * 2,3,4,5,6}.
     *
     * @throws IllegalArgumentException when the expression is not a valid 5-field cron; the
     *                                  message names the field and what is wrong
     */
    public static String toQuartz(String fiveField) {
        if (fiveField == null || fiveField.isBlank()) {
            throw new IllegalArgumentException("empty cron expression: expected 5 fields "
                    + "(minute hour day-of-month month day-of-week), e.g. '0 * * * *'");
        }
        String expr = fiveField.trim();
        java.util.regex.Matcher every = EVERY.matcher(expr);
        if (every.matches()) {
            return every(expr, Integer.parseInt(every.group(1)), every.group(2));
        }
        if (expr.equalsIgnoreCase("@reboot")) {
            throw new IllegalArgumentException("'@reboot' runs once when cron starts, which is not a backup"
                    + " schedule: use a periodic form such as '@hourly' or '0 * * * *'");
        }
        if (expr.startsWith("@")) {
            String expanded = MACROS.get(expr.toLowerCase(Locale.ROOT));
            if (expanded == null) {
                throw new IllegalArgumentException("unknown cron macro '" + expr + "': expected one of "
                        + new TreeSet<>(MACROS.keySet()));
            }
            expr = expanded;
        }
        String[] f = expr.split("\\s+");
        if (f.length != 5) {
            throw new IllegalArgumentException("cron expression '" + fiveField + "' has " + f.length
                    + " fields: expected 5 (minute hour day-of-month month day-of-week)");
        }
        String minute = render(Field.MINUTE, parse(Field.MINUTE, f[0]));
        String hour = render(Field.HOUR, parse(Field.HOUR, f[1]));
        List<Item> domItems = parse(Field.DAY_OF_MONTH, f[2]);
        String month = render(Field.MONTH, parse(Field.MONTH, f[3]));
        List<Item> dowItems = parse(Field.DAY_OF_WEEK, f[4]);

        // Vixie cron: a field beginning with '*' (even '*/2') makes a day match both fields, else either.
        boolean matchBoth = f[2].startsWith("*") || f[4].startsWith("*");
        boolean domAll = expand(domItems).size() == 31;
        boolean dowAll = daysOfWeek(dowItems).size() == 7;
        String dom;
        String dow;
        if (matchBoth && dowAll && (f[4].equals("*") || !domAll)) {
            dom = render(Field.DAY_OF_MONTH, domItems);
            dow = "?";
        } else if (matchBoth && domAll) {
            dom = "?";
            dow = renderDaysOfWeek(dowItems);
        } else if (!matchBoth && (domAll || dowAll)) {
            // either matches and one field covers every day: every day
            dom = "*";
            dow = "?";
        } else if (matchBoth) {
            throw new IllegalArgumentException("day-of-month '" + f[2] + "' and day-of-week '" + f[4]
                    + "' are both restricted: as one begins with '*', cron runs only on days matching both,"
                    + " which Quartz cannot express; restrict only one of them and set the other to '*'");
        } else {
            throw new IllegalArgumentException("day-of-month '" + f[2] + "' and day-of-week '" + f[4]
                    + "' are both restricted: cron runs when either matches, which Quartz cannot express;"
                    + " set one of them to '*'");
        }
        String quartz = String.join(" ", "0", minute, hour, dom, month, dow);
        try {
            new CronExpression(quartz);
        } catch (ParseException e) {
            throw new IllegalArgumentException("cron expression '" + fiveField + "' converts to '" + quartz
                    + "' which Quartz refuses: " + e.getMessage(), e);
        }
        return quartz;
    }

    private static List<Item> parse(Field field, String text) {
        List<Item> items = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            items.add(parseItem(field, text, part));
        }
        return items;
    }

    private static Item parseItem(Field field, String whole, String part) {
        if (part.isEmpty()) {
            throw bad(field, whole, "empty list item");
        }
        String range = part;
        int step = 1;
        boolean stepGiven = false;
        int slash = part.indexOf('/');
        if (slash >= 0) {
            range = part.substring(0, slash);
            String s = part.substring(slash + 1);
            if (!s.matches("\\d{1,4}")) {
                throw bad(field, whole, "step '" + s + "' is not a positive number");
            }
            step = Integer.parseInt(s);
            int span = field.max - field.min + 1;
            if (step < 1 || step > span) {
                throw bad(field, whole, "step " + step + " out of range 1-" + span);
            }
            stepGiven = true;
        }
        if (range.equals("*")) {
            return new Item(true, field.min, field.max, true, step);
        }
        int dash = range.indexOf('-');
        if (dash >= 0) {
            int start = value(field, whole, range.substring(0, dash));
            int end = value(field, whole, range.substring(dash + 1));
            if (start > end) {
                throw bad(field, whole, "range " + range + " goes backwards (start " + start + " > end " + end
                        + ")");
            }
            return new Item(false, start, end, true, step);
        }
        int v = value(field, whole, range);
        // "5/10" means from 5 to the end, every 10
        return stepGiven ? new Item(false, v, field.max, false, step) : new Item(false, v, v, true, 1);
    }

    private static int value(Field field, String whole, String token) {
        if (token.isEmpty()) {
            throw bad(field, whole, "missing value");
        }
        int v;
        if (token.matches("\\d{1,4}")) {
            v = Integer.parseInt(token);
        } else {
            int idx = field.names.indexOf(token.toUpperCase(Locale.ROOT));
            if (idx < 0) {
                throw bad(field, whole, "'" + token + "' is not a number" + (field.names.isEmpty() ? ""
                        : " nor a name (" + String.join(",", field.names) + ")"));
            }
            v = field.min + idx;
        }
        if (v < field.min || v > field.max) {
            throw bad(field, whole, "value " + v + " out of range " + field.min + "-" + field.max);
        }
        return v;
    }

    private static IllegalArgumentException bad(Field field, String whole, String what) {
        return new IllegalArgumentException(field.label + " field '" + whole + "': " + what);
    }

    /** Quartz form of minute, hour, day-of-month or month: native for one item, expanded for a list. */
    private static String render(Field field, List<Item> items) {
        if (items.size() == 1) {
            Item i = items.get(0);
            String base = i.star() ? "*" : i.endGiven() && i.start() != i.end() ? i.start() + "-" + i.end()
                    : String.valueOf(i.start());
            return i.step() > 1 || !i.endGiven() ? base + "/" + i.step() : base;
        }
        return join(expand(items));
    }

    /** Quartz day-of-week: cron 0 and 7 are Sunday, Quartz numbers SUN=1..SAT=7; always expanded. */
    private static String renderDaysOfWeek(List<Item> items) {
        TreeSet<Integer> days = daysOfWeek(items);
        return days.size() == 7 ? "*" : join(days);
    }

    /** The Quartz days (SUN=1..SAT=7) of a cron day-of-week field. */
    private static TreeSet<Integer> daysOfWeek(List<Item> items) {
        TreeSet<Integer> days = new TreeSet<>();
        for (int d : expand(items)) {
            days.add(d % 7 + 1);
        }
        return days;
    }

    private static TreeSet<Integer> expand(List<Item> items) {
        TreeSet<Integer> values = new TreeSet<>();
        for (Item i : items) {
            for (int v = i.start(); v <= i.end(); v += i.step()) {
                values.add(v);
            }
        }
        return values;
    }

    private static String join(Iterable<Integer> values) {
        List<String> out = new ArrayList<>();
        values.forEach(v -> out.add(String.valueOf(v)));
        return out.stream().collect(Collectors.joining(","));
    }
}

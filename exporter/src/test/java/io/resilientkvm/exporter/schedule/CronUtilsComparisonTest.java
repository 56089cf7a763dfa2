package io.resilientkvm.exporter.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.cronutils.mapper.CronMapper;
import com.cronutils.model.Cron;
import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinition;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.definition.CronNicknames;
import com.cronutils.model.field.CronFieldName;
import com.cronutils.model.field.definition.FieldDefinition;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import io.resilientkvm.exporter.schedule.CronForms.Form;
import io.resilientkvm.exporter.schedule.CronForms.Implementation;
import io.resilientkvm.exporter.schedule.CronForms.Verdict;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Evaluation of cron-utils 9.2.1 against CronExpressions on the forms of {@link CronForms}. */
class CronUtilsComparisonTest {
    private static final CronParser UNIX = new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));

    /** The Unix definition plus Vixie's timed macros (cron-utils' Unix one has none). */
    private static final CronParser UNIX_MACROS = new CronParser(withMacros());

    private static CronDefinition withMacros() {
        CronDefinition unix = CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX);
        Map<CronFieldName, FieldDefinition> fields = unix.retrieveFieldDefinitionsAsMap();
        List<FieldDefinition> ordered = List.of(fields.get(CronFieldName.MINUTE), fields.get(CronFieldName.HOUR),
                fields.get(CronFieldName.DAY_OF_MONTH), fields.get(CronFieldName.MONTH),
                fields.get(CronFieldName.DAY_OF_WEEK));
        return new CronDefinition(ordered, unix.getCronConstraints(), EnumSet.complementOf(EnumSet.of(CronNicknames.REBOOT)),
                unix.isMatchDayOfWeekAndDayOfMonth());
    }

    /** What a replacement would run: @every kept as today, macros by the definition, then Unix -> Quartz. */
    static List<LocalDateTime> replacement(String expr, LocalDateTime from, int n) {
        if (expr.startsWith("@every")) {
            return CronForms.cronExpressions(expr, from, n);
        }
        String q;
        try {
            q = CronMapper.fromUnixToQuartz().map(UNIX_MACROS.parse(expr)).asString();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(e.getClass().getSimpleName() + ": " + e.getMessage(), e);
        }
        return CronForms.quartz(q, from, n);
    }

    private static Cron parse(String expr) {
        try {
            return UNIX.parse(expr);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(e.getClass().getSimpleName() + ": " + e.getMessage(), e);
        }
    }

    /** cron-utils' Unix definition mapped to Quartz, run by Quartz (what BackupSchedule would run). */
    static List<LocalDateTime> mapped(String expr, LocalDateTime from, int n) {
        String q;
        try {
            q = CronMapper.fromUnixToQuartz().map(parse(expr)).asString();
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(e.getClass().getSimpleName() + ": " + e.getMessage(), e);
        }
        return CronForms.quartz(q, from, n);
    }

    /** cron-utils' own ExecutionTime on the Unix definition. */
    static List<LocalDateTime> executionTime(String expr, LocalDateTime from, int n) {
        ExecutionTime et = ExecutionTime.forCron(parse(expr));
        List<LocalDateTime> out = new ArrayList<>();
        ZonedDateTime t = from.atZone(ZoneOffset.UTC);
        while (out.size() < n) {
            Optional<ZonedDateTime> next = et.nextExecution(t);
            if (next.isEmpty()) {
                break;
            }
            t = next.get();
            out.add(t.withZoneSameInstant(ZoneOffset.UTC).toLocalDateTime());
        }
        return out;
    }

    private static String show(Implementation impl, String expr) {
        try {
            List<LocalDateTime> fires = impl.next(expr, CronForms.FROM, 3);
            return fires.toString();
        } catch (IllegalArgumentException e) {
            return "refused: " + e.getMessage();
        }
    }

    @Test
    void compare() {
        Map<String, Implementation> impls = new LinkedHashMap<>();
        impls.put("CronExpressions", CronForms::cronExpressions);
        impls.put("cron-utils Unix->Quartz", CronUtilsComparisonTest::mapped);
        impls.put("cron-utils ExecutionTime", CronUtilsComparisonTest::executionTime);
        impls.put("cron-utils replacement", CronUtilsComparisonTest::replacement);
        Map<String, Map<Verdict, Integer>> counts = new LinkedHashMap<>();
        impls.keySet().forEach(k -> counts.put(k, new EnumMap<>(Verdict.class)));
        StringBuilder table = new StringBuilder("| form | kind | reference | " + String.join(" | ", impls.keySet())
                + " |\n");
        for (Form f : CronForms.ALL) {
            table.append("| `").append(f.expr()).append("` | ").append(f.kind()).append(" | ")
                    .append(show(CronForms::reference, f.expr())).append(" |");
            for (var e : impls.entrySet()) {
                Verdict v = CronForms.judge(e.getValue(), f);
                counts.get(e.getKey()).merge(v, 1, Integer::sum);
                table.append(' ').append(v).append(v == Verdict.CORRECT ? "" : " " + show(e.getValue(), f.expr()))
                        .append(" |");
            }
            table.append('\n');
        }
        System.out.println(table);
        System.out.println("forms: " + CronForms.ALL.size() + " counts: " + counts);
        assertEquals(CronForms.ALL.size(), counts.get("CronExpressions").values().stream().mapToInt(i -> i).sum());
    }
}

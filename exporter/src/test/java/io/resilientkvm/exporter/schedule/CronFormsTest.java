package io.resilientkvm.exporter.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.exporter.schedule.CronForms.Form;
import io.resilientkvm.exporter.schedule.CronForms.Verdict;
import java.time.LocalDateTime;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The regression suite of the schedule against Vixie cron: on every form of {@link CronForms},
 * the Quartz expression CronExpressions makes fires at the same next {@value CronForms#FIRES}
 * times as the brute-force {@link VixieCron} reference, or is refused where Vixie refuses. The
 * only forms it may refuse although Vixie runs them are those Quartz cannot express (both day
 * fields restricted), each with a message saying what to write.
 */
class CronFormsTest {
    /** Runs in Vixie cron, no single Quartz expression: the message CronExpressions gives. */
    private static final Map<String, String> INEXPRESSIBLE = Map.of(
            "0 0 1,15 * 1", "cron runs when either matches, which Quartz cannot express; set one of them to '*'",
            "0 0 1-7 * 1", "cron runs when either matches, which Quartz cannot express; set one of them to '*'",
            "0 0 */2 * 1", "cron runs only on days matching both, which Quartz cannot express; restrict only one",
            "0 0 1 * */2", "cron runs only on days matching both, which Quartz cannot express; restrict only one");

    static Stream<Form> forms() {
        return CronForms.ALL.stream();
    }

    @ParameterizedTest
    @MethodSource("forms")
    void firesAsVixieCron(Form form) {
        Verdict verdict = CronForms.judge(CronForms::cronExpressions, form);
        String message = INEXPRESSIBLE.get(form.expr());
        if (message == null) {
            assertEquals(Verdict.CORRECT, verdict, () -> form + " (" + form.meaning() + "): reference "
                    + fires(CronForms::reference, form) + ", CronExpressions " + fires(CronForms::cronExpressions, form));
        } else {
            assertEquals(Verdict.REFUSED, verdict, form::toString);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CronExpressions.toQuartz(form.expr()));
            assertTrue(e.getMessage().contains(message), e.getMessage());
        }
    }

    private static String fires(CronForms.Implementation impl, Form form) {
        try {
            return impl.next(form.expr(), CronForms.FROM, CronForms.FIRES).toString();
        } catch (IllegalArgumentException e) {
            return "refused (" + e.getMessage() + ")";
        }
    }

    /** The reference itself, on forms whose fire times are known by hand. */
    @Test
    void referenceKnowsVixieDayRule() {
        LocalDateTime from = CronForms.FROM; // Tuesday 2024-02-27 13:07:30
        // either day: Fri 1 Mar (the 1st), then Mondays 4 and 11 Mar, then Fri 15 Mar
        assertEquals(List.of(LocalDateTime.of(2024, 3, 1, 0, 0), LocalDateTime.of(2024, 3, 4, 0, 0),
                LocalDateTime.of(2024, 3, 11, 0, 0), LocalDateTime.of(2024, 3, 15, 0, 0)),
                VixieCron.parse("0 0 1,15 * 1").next(from, 4));
        // '*/2' begins with '*': both must match, odd-numbered Mondays (11, 25 Mar, 1 Apr)
        assertEquals(List.of(LocalDateTime.of(2024, 3, 11, 0, 0), LocalDateTime.of(2024, 3, 25, 0, 0),
                LocalDateTime.of(2024, 4, 1, 0, 0)), VixieCron.parse("0 0 */2 * 1").next(from, 3));
        // 7 and sun are Sunday; the leap day comes every four years
        assertEquals(VixieCron.parse("0 3 * * 0").next(from, 5), VixieCron.parse("0 3 * * 7").next(from, 5));
        assertEquals(VixieCron.parse("0 3 * * 0").next(from, 5), VixieCron.parse("0 3 * * SUN").next(from, 5));
        assertEquals(List.of(LocalDateTime.of(2024, 2, 29, 0, 0), LocalDateTime.of(2028, 2, 29, 0, 0)),
                VixieCron.parse("0 0 29 2 *").next(from, 2));
        assertThrows(IllegalArgumentException.class, () -> VixieCron.parse("5/20 * * * *"));
        assertThrows(IllegalArgumentException.class, () -> VixieCron.parse("@reboot"));
    }
}

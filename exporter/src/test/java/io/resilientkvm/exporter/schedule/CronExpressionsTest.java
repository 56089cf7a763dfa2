package io.resilientkvm.exporter.schedule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.text.ParseException;
import java.time.DayOfWeek;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.util.Date;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.quartz.CronExpression;

class CronExpressionsTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "0 * * * *       | 0 0 * * * ?",
        "*/10 * * * *    | 0 */10 * * * ?",
        "30 2 * * 1-5    | 0 30 2 ? * 2,3,4,5,6",
        "0 0 1 * *       | 0 0 0 1 * ?",
        "0 3 * * 0       | 0 0 3 ? * 1",
        "0 3 * * 7       | 0 0 3 ? * 1",
        "0 3 * * sun     | 0 0 3 ? * 1",
        "0 3 * * MON-FRI | 0 0 3 ? * 2,3,4,5,6",
        "0 3 * * 5-7     | 0 0 3 ? * 1,6,7",
        "0 3 * * 0,6     | 0 0 3 ? * 1,7",
        "0 3 * * */2     | 0 0 3 ? * 1,3,5,7",
        "0 3 * * 0-7     | 0 0 3 ? * *",
        "0 0 1-31 * 1    | 0 0 0 * * ?",
        "0 0 13 * 0-7    | 0 0 0 * * ?",
        "0 0 */1 * mon   | 0 0 0 ? * 2",
        "5,35 */6 * * *  | 0 5,35 */6 * * ?",
        "0-30/15 1-5 * * * | 0 0-30/15 1-5 * * ?",
        "5/20 * * * *    | 0 5/20 * * * ?",
        "0 0 1 jan,JUL * | 0 0 0 1 1,7 ?",
        "0 0 1-15/7 feb-mar * | 0 0 0 1-15/7 2-3 ?",
        "@hourly         | 0 0 * * * ?",
        "@daily          | 0 0 0 * * ?",
        "@weekly         | 0 0 0 ? * 1",
        "@every 20s      | 0/20 * * * * ?",
        "@every 5m       | 0 0/5 * * * ?",
        "  0   *  * * *  | 0 0 * * * ?",
    })
    void converts(String unix, String quartz) {
        String converted = CronExpressions.toQuartz(unix);
        assertEquals(quartz, converted);
        assertTrue(CronExpression.isValidExpression(converted), converted);
    }

    @Test
    void weekdaysFireOnWeekdaysOnly() throws ParseException {
        CronExpression e = new CronExpression(CronExpressions.toQuartz("30 2 * * 1-5"));
        e.setTimeZone(java.util.TimeZone.getTimeZone("UTC"));
        // 2024-06-01 is a Saturday: the next run is Monday 02:30
        Date from = Date.from(LocalDateTime.of(2024, 6, 1, 12, 0).atZone(ZoneId.of("UTC")).toInstant());
        LocalDateTime next = LocalDateTime.ofInstant(e.getNextValidTimeAfter(from).toInstant(), ZoneId.of("UTC"));
        assertEquals(LocalDateTime.of(2024, 6, 3, 2, 30), next);
        assertEquals(DayOfWeek.MONDAY, next.getDayOfWeek());
    }

    @Test
    void sundayZeroIsSunday() throws ParseException {
        CronExpression e = new CronExpression(CronExpressions.toQuartz("0 3 * * 0"));
        e.setTimeZone(java.util.TimeZone.getTimeZone("UTC"));
        Date from = Date.from(LocalDateTime.of(2024, 6, 1, 12, 0).atZone(ZoneId.of("UTC")).toInstant());
        LocalDateTime next = LocalDateTime.ofInstant(e.getNextValidTimeAfter(from).toInstant(), ZoneId.of("UTC"));
        assertEquals(LocalDateTime.of(2024, 6, 2, 3, 0), next);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "60 * * * *      | minute field '60': value 60 out of range 0-59",
        "* 24 * * *      | hour field '24': value 24 out of range 0-23",
        "0 0 0 * *       | day-of-month field '0': value 0 out of range 1-31",
        "0 0 32 * *      | day-of-month field '32'",
        "0 0 * 13 *      | month field '13': value 13 out of range 1-12",
        "0 0 * foo *     | month field 'foo': 'foo' is not a number nor a name",
        "0 0 * * 8       | day-of-week field '8': value 8 out of range 0-7",
        "0 0 * * XYZ     | day-of-week field 'XYZ'",
        "*/0 * * * *     | minute field '*/0': step 0 out of range",
        "*/x * * * *     | minute field '*/x': step 'x' is not a positive number",
        "30-10 * * * *   | minute field '30-10': range 30-10 goes backwards",
        "1,,2 * * * *    | minute field '1,,2': empty list item",
        "-5 * * * *      | minute field '-5': missing value",
        "0 * * *         | has 4 fields: expected 5",
        "0 0 * * * *     | has 6 fields: expected 5",
        "0 0 1 * 1       | day-of-month '1' and day-of-week '1' are both restricted: cron runs when either",
        "0 0 */2 * 1     | day-of-month '*/2' and day-of-week '1' are both restricted: as one begins with '*'",
        "@reboot         | '@reboot' runs once when cron starts, which is not a backup schedule",
        "@sometimes      | unknown cron macro '@sometimes'",
        "@every 7s       | the period must divide 60",
        "@every 0s       | the period must divide 60",
    })
    void refuses(String unix, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CronExpressions.toQuartz(unix));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @Test
    void refusesEmpty() {
        assertThrows(IllegalArgumentException.class, () -> CronExpressions.toQuartz(null));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CronExpressions.toQuartz("  "));
        assertTrue(e.getMessage().contains("expected 5 fields"), e.getMessage());
    }
}

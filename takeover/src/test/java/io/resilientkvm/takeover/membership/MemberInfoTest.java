package io.resilientkvm.takeover.membership;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The member znode: format 1 with the optional backup-schedule a main announces. */
class MemberInfoTest {
    private static final Instant T0 = Instant.parse("2026-12-01T09:00:00Z");

    @Test
    void aMainsBackupScheduleRoundTripsAndOlderZnodesReadWithout() throws Exception {
        MemberInfo main = new MemberInfo("node-a", Role.MAIN, "127.0.0.1:7000", 3, T0, "cron '6 17 * * *' (daily at 17:06 ...)");
        assertEquals(main, MemberInfo.fromBytes(main.toBytes()));
        byte[] older = ("{\"format-version\":1,\"node\":\"node-b\",\"role\":\"clone\",\"address\":\"\",\"epoch\":3,"
                + "\"started\":\"2026-12-01T09:00:00Z\"}").getBytes(StandardCharsets.UTF_8);
        assertEquals(new MemberInfo("node-b", Role.CLONE, "", 3, T0), MemberInfo.fromBytes(older));
        assertEquals("", main.withRole(Role.FENCED, 3).backupSchedule(), "only a main announces a schedule");
    }
}

package io.resilientkvm.drill.guest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The journal format the guest's init writes, checked against records built the same way. */
class GuestJournalTest {
    /** A record exactly as the init script's record() builds it. */
    static byte[] record(char type, long seq, String time, String payload) throws Exception {
        String body = String.format("RKJ1 %c %010d %s %-13.13s", type, seq, time, payload);
        String sum = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body.getBytes(StandardCharsets.US_ASCII)));
        return (body + " " + sum.substring(0, 16) + "\n").getBytes(StandardCharsets.US_ASCII);
    }

    static byte[] journal(int n) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(record('B', 1, "1796119906.510", "fsck=new,new"));
        for (int i = 2; i <= n; i++) {
            out.write(record('J', i, "1796119906.7" + (i % 10) + "0", "tick"));
        }
        return out.toByteArray();
    }

    @Test
    void aWellFormedJournalIsIntactAndParsed() throws Exception {
        GuestJournal.Verdict v = GuestJournal.verify(journal(5));
        assertTrue(v.intact(), v.problem().toString());
        assertEquals(5, v.lastSeq());
        assertEquals("fsck=new,new", v.records().get(0).payload());
        assertEquals('J', v.last().orElseThrow().type());
        assertEquals(1796119906.75, v.last().orElseThrow().time(), 1e-6);
    }

    @Test
    void aRecordTheGuestWroteParses() {
        // Copied from a real guest's /journal/main.
        List<GuestJournal.Record> r = GuestJournal.parse("RKJ1 J 0000000005 1796119908.430 tick          cdd38feccf3f906c\n"
                .getBytes(StandardCharsets.US_ASCII));
        assertTrue(r.get(0).valid(), r.toString());
        assertEquals(5, r.get(0).seq());
    }

    @Test
    void aFlippedByteAGapATearAndARepeatAreEachReported() throws Exception {
        byte[] j = journal(4);
        j[64 + 20] ^= 1; // a digit of record 2's time
        assertTrue(GuestJournal.verify(j).problem().orElseThrow().contains("checksum"));

        ByteArrayOutputStream gap = new ByteArrayOutputStream();
        gap.write(journal(2));
        gap.write(record('J', 4, "1796119907.000", "tick"));
        assertTrue(GuestJournal.verify(gap.toByteArray()).problem().orElseThrow().contains("expected 3"));

        byte[] torn = java.util.Arrays.copyOf(journal(3), 64 * 3 - 10);
        GuestJournal.Verdict t = GuestJournal.verify(torn);
        assertFalse(t.intact());
        assertTrue(t.problem().orElseThrow().contains("torn"), t.problem().toString());
        assertEquals(2, t.lastSeq());

        ByteArrayOutputStream repeat = new ByteArrayOutputStream();
        repeat.write(journal(2));
        repeat.write(record('J', 2, "1796119907.000", "tick"));
        assertTrue(GuestJournal.verify(repeat.toByteArray()).problem().orElseThrow().contains("sequence 2"));
    }

    @Test
    void payloadsOfFetchedFilesAreTheirSha256Prefix() {
        // sha256("hello guest\n") = 7af8b1b8632c4..., as the guest recorded it for that file.
        assertEquals("7af8b1b8632c4", GuestJournal.payloadOf("hello guest\n".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void moduleDependenciesComeFromTheModinfoSection() {
        byte[] ko = "\0\0license=GPL\0depends=virtio_ring,virtio\0retpoline=Y\0".getBytes(StandardCharsets.US_ASCII);
        assertEquals(List.of("virtio_ring", "virtio"), GuestImageBuilder.depends(ko));
        assertEquals(List.of(), GuestImageBuilder.depends("\0depends=\0".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(List.of(), GuestImageBuilder.depends("\0xdepends=a\0".getBytes(StandardCharsets.US_ASCII)));
    }
}

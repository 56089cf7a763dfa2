package io.resilientkvm.engine.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Issue 12: qemu-img's error text was published verbatim into ZooKeeper (an importer's last error). */
class PublishedTextTest {
    @Test
    void controlCharactersGoHostPathsStayAndTheLengthIsBounded() {
        String qemuImg = "qemu-img: Could not open '/srv/kvm1/backup/virtio0/20261124T100000.000Z/INC-1.qcow2':\n"
                + "\u001b[31mImage is corrupt\u001b[0m\r\n\u202eevil\u0000\u0085end";
        String clean = PublishedText.sanitize(qemuImg);
        assertEquals("qemu-img: Could not open '/srv/kvm1/backup/virtio0/20261124T100000.000Z/INC-1.qcow2': [31mImage is "
                + "corrupt [0m evil end", clean);
        assertTrue(clean.chars().noneMatch(c -> c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x202e), clean);

        String huge = "/srv/kvm1/" + "x".repeat(100_000);
        String bounded = PublishedText.sanitize(huge);
        assertTrue(bounded.length() <= PublishedText.MAX_CHARS, "length " + bounded.length());
        assertTrue(bounded.startsWith("/srv/kvm1/xxx"), bounded);
        assertTrue(bounded.endsWith(" more characters)"), bounded);
        // Published once, read back and published again: unchanged.
        assertEquals(bounded, PublishedText.sanitize(bounded));
        assertEquals(clean, PublishedText.sanitize(clean));
        assertNull(PublishedText.sanitize(null));
        // A surrogate pair is never cut in half.
        String emoji = "\uD83D\uDE00".repeat(2_000);
        String cut = PublishedText.sanitize(emoji);
        assertTrue(Character.isLowSurrogate(cut.charAt(cut.indexOf(" ...") - 1)), cut.substring(cut.length() - 60));
    }

    @Test
    void anImporterStatusPublishesItsLastErrorSanitizedAndReadsItBackTheSame() throws Exception {
        ImporterStatus s = new ImporterStatus("clone1", 3, Instant.parse("2026-12-01T10:00:00Z"), List.of(), 0,
                "qemu-img failed:\n" + "y".repeat(5_000));
        assertTrue(s.lastError().startsWith("qemu-img failed: yyy"), s.lastError());
        assertTrue(s.lastError().length() <= PublishedText.MAX_CHARS);
        assertEquals(s, ImporterStatus.fromBytes(s.toBytes(), "importers/clone1"));
    }
}

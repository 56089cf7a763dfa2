package io.resilientkvm.importer.restore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The hold file's format (1) stays as the former hand-mapped writer made it. */
class HoldTest {
    private static final Hold HOLD = new Hold("vda-20261120T100000.123Z-0a1b2c3d", "vda", "20261120T100000.000Z",
            "INC-20261120T110000.000Z.qcow2", Path.of("/srv/vm/overlay.qcow2"), Instant.parse("2026-11-20T12:00:00.123Z"),
            4242, "clone-1");

    @Test
    void aHoldWrittenByTheFormerWriterReadsTheSameAndIsWrittenByteForByteTheSame() throws Exception {
        // Written by toJson before it moved to Jackson data binding (commit 78a4069).
        String before;
        try (InputStream in = HoldTest.class.getResourceAsStream("/holds/" + HOLD.id() + ".json")) {
            before = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertEquals(HOLD, Hold.parse(before, "h.json"));
        assertEquals(before, HOLD.toJson());
    }

    @Test
    void aMissingFieldAnotherVersionAndNonJsonAreBadInputNamingTheFile() {
        String noOverlay = HOLD.toJson().replaceAll("(?m)^.*\"overlay\".*\\R", "");
        BadInputException missing = assertThrows(BadInputException.class, () -> Hold.parse(noOverlay, "h.json"));
        assertTrue(missing.getMessage().startsWith("h.json: not a valid hold: ")
                && missing.getMessage().contains("overlay"), missing.getMessage());
        BadInputException future = assertThrows(BadInputException.class,
                () -> Hold.parse(HOLD.toJson().replace("\"formatVersion\" : 1", "\"formatVersion\" : 2"), "h.json"));
        assertTrue(future.getMessage().contains("hold formatVersion 2 is not supported"), future.getMessage());
        BadInputException time = assertThrows(BadInputException.class,
                () -> Hold.parse(HOLD.toJson().replace("2026-11-20T12:00:00.123Z", "noon"), "h.json"));
        assertTrue(time.getMessage().contains("noon"), time.getMessage());
        assertThrows(BadInputException.class, () -> Hold.parse("[]", "h.json"));
        assertThrows(BadInputException.class, () -> Hold.parse("not json", "h.json"));
    }
}

package io.resilientkvm.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The ids are recorded in etc/.data-disk-ids and name backup folders: these values must never change. */
class ExternalDiskNamesTest {
    /** QEMU's id_wellformed(), for node names and device ids. */
    private static final Pattern QEMU_ID = Pattern.compile("[A-Za-z][A-Za-z0-9._-]*");

    @Test
    void namesAcceptedBeforeAreTheirOwnIds() {
        for (String name : List.of("first", "data_2", "a-b", "X", "12345678901234567890")) {
            assertEquals(name, ExternalDiskNames.qemuId(name));
        }
    }

    @Test
    void otherNamesGetASlugAndAHashPinnedHere() {
        // The hashes are the first 8 hex digits of sha256 of the name, computed outside Java (python3 hashlib).
        assertEquals("first_disk.db379bdf", ExternalDiskNames.qemuId("first disk"));
        assertEquals("second_disk.d5fca699", ExternalDiskNames.qemuId("second disk"));
        assertEquals("third_disk.907c7112", ExternalDiskNames.qemuId("third disk"));
    }

    @Test
    void derivedIdsAreQemuSafeShortAndApart() {
        List<String> names = List.of("first disk", "first_disk", "first-disk", "first.disk", " ", "é", "a name far longer than twenty",
                "__x", "-lead", "123456789012345678901", "disque n°3 (données)");
        for (String name : names) {
            String id = ExternalDiskNames.qemuId(name);
            String node = "disk-" + id + "-file";
            assertTrue(QEMU_ID.matcher(node).matches(), node);
            assertTrue(node.length() <= 31, node);
        }
        assertEquals(names.size(), names.stream().map(ExternalDiskNames::qemuId).distinct().count(), "one id per name");
        assertNotEquals(ExternalDiskNames.qemuId("first disk"), ExternalDiskNames.qemuId("first/disk"),
                "names that differ only in punctuation stay apart");
    }
}

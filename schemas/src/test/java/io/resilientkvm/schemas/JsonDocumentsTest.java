package io.resilientkvm.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonDocumentsTest {
    @TempDir
    Path dir;

    @Test
    void aDuplicatedKeyIsAnErrorWithItsLine() throws Exception {
        Path f = Files.writeString(dir.resolve("p.json"), "{\n  \"ram-size\": 1024,\n  \"ram-size\": 2048\n}\n");
        InvalidDocumentException e = assertThrows(InvalidDocumentException.class, () -> JsonDocuments.readObject(f));
        assertEquals(1, e.problems().size());
        assertTrue(e.getMessage().startsWith(f + ":3:"), e.getMessage());
        assertTrue(e.getMessage().contains("Duplicate field 'ram-size'"), e.getMessage());
    }

    @Test
    void brokenJsonMissingFilesAndNonObjectsAreNamed() throws Exception {
        Path broken = Files.writeString(dir.resolve("b.json"), "{\"ram-size\": }");
        assertTrue(assertThrows(InvalidDocumentException.class, () -> JsonDocuments.readObject(broken)).getMessage()
                .startsWith(broken + ":1:"));
        Path missing = dir.resolve("none.json");
        assertEquals(missing + ": no such file",
                assertThrows(InvalidDocumentException.class, () -> JsonDocuments.readObject(missing)).getMessage());
        Path array = Files.writeString(dir.resolve("a.json"), "[1]");
        assertTrue(assertThrows(InvalidDocumentException.class, () -> JsonDocuments.readObject(array)).getMessage()
                .contains("expected a JSON object"));
        Path trailing = Files.writeString(dir.resolve("t.json"), "{} {}");
        assertThrows(InvalidDocumentException.class, () -> JsonDocuments.readObject(trailing));
        Path empty = Files.writeString(dir.resolve("e.json"), "  ");
        assertTrue(assertThrows(InvalidDocumentException.class, () -> JsonDocuments.readObject(empty)).getMessage().contains("empty"));
    }

    @Test
    void closestNameIsFoundAndNoiseIsNotSuggested() {
        assertEquals("ram-size", NameSuggester.closest("ramsize", java.util.List.of("ram-size", "disk-size")).orElseThrow());
        assertTrue(NameSuggester.closest("zzzzzzzz", java.util.List.of("ram-size", "disk-size")).isEmpty());
    }
}

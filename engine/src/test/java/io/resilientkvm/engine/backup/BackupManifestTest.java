package io.resilientkvm.engine.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Manifests are checked against backup-manifest-schema.json: whatever breaks it is refused, naming file and field. */
class BackupManifestTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CHAIN = "20261124T100000.000Z";
    private static final String FULL = "FULL-" + CHAIN + ".qcow2";
    private static final String INC = "INC-20261124T110000.000Z.qcow2";
    private static final String SUFFIX_JSON = BackupManifest.SUFFIX;

    @TempDir
    Path dir;

    static BackupManifest inc() {
        return new BackupManifest(1, "vm", "virtio0", CHAIN, 1, Level.INC, INC, FULL, "qmpbackup-virtio0-" + CHAIN,
                64L << 20, 123, "0123456789abcdef".repeat(4), Instant.parse("2026-11-24T11:00:02.123Z"),
                Instant.parse("2026-11-24T11:00:00Z"), Instant.parse("2026-11-24T11:00:01.5Z"), 3, 4096, 1000);
    }

    static BackupManifest full() {
        return new BackupManifest(1, null, "virtio0", CHAIN, 0, Level.FULL, FULL, null, "qmpbackup-virtio0-" + CHAIN,
                64L << 20, 1, "a".repeat(64), Instant.EPOCH, Instant.EPOCH, Instant.EPOCH, 0, 0, 0);
    }

    @Test
    void whatToJsonWritesIsValidAndReadsBackEqual() throws Exception {
        assertEquals(inc(), BackupManifest.parse(inc().toJson(), "m.json"));
        BackupManifest f = BackupManifest.parse(full().toJson(), "f.json");
        assertNull(f.parent());
        assertNull(f.instance());
        Path file = dir.resolve(FULL + ".json");
        Files.writeString(file, full().toJson());
        assertEquals(full(), BackupManifest.read(file));
    }

    @Test
    void manifestsWrittenByTheFormerHandMappedWriterReadTheSameAndAreWrittenByteForByteTheSame() throws Exception {
        // Fixtures written by toJson before it moved to Jackson data binding (commit 78a4069).
        for (BackupManifest m : new BackupManifest[] {inc(), full()}) {
            String before = fixture(m.file() + SUFFIX_JSON);
            assertEquals(m, BackupManifest.parse(before, m.file()));
            assertEquals(before, m.toJson(), "the on-disk format of " + m.file() + " did not change");
        }
    }

    @Test
    void whatToJsonWritesValidatesAgainstTheManifestSchema() throws Exception {
        for (BackupManifest m : new BackupManifest[] {inc(), full()}) {
            ObjectNode o = (ObjectNode) JSON.readTree(m.toJson());
            assertEquals(java.util.List.of(), ParameterValidator.of(SchemaKind.BACKUP_MANIFEST).validate(o).violations(),
                    m.file());
        }
    }

    private static String fixture(String name) throws Exception {
        try (var in = BackupManifestTest.class.getResourceAsStream("/manifests/" + name)) {
            assertTrue(in != null, "fixture " + name);
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    @Test
    void aMissingFieldIsNamed() throws Exception {
        BadInputException e = broken(inc(), o -> o.remove("sha256"));
        assertProblem(e, "m.json: field sha256: is required");
        assertProblem(broken(inc(), o -> ((ObjectNode) o.get("job")).remove("durationMillis")),
                "m.json: field job.durationMillis: is required");
    }

    @Test
    void aWrongTypeIsNamed() throws Exception {
        assertProblem(broken(inc(), o -> o.put("fileSize", "123")),
                "m.json: field fileSize = \"123\": must be an integer, not a string");
        assertProblem(broken(inc(), o -> o.put("sequence", 1.5)), "m.json: field sequence = 1.5: must be an integer");
        assertProblem(broken(inc(), o -> o.put("sequence", -1)), "m.json: field sequence = -1: must be at least");
        assertProblem(broken(inc(), o -> o.put("level", "HALF")), "m.json: field level = \"HALF\": must be one of FULL, INC");
        assertProblem(broken(inc(), o -> o.put("startedAt", "yesterday")), "m.json: field startedAt = \"yesterday\"");
        assertProblem(broken(inc(), o -> o.put("surprise", true)), "m.json: field surprise = true: is not a known parameter");
    }

    @Test
    void aBadSha256IsRefused() throws Exception {
        assertProblem(broken(inc(), o -> o.put("sha256", "ABC")), "m.json: field sha256 = \"ABC\": does not have the expected form");
        assertProblem(broken(inc(), o -> o.put("sha256", "A".repeat(64))), "m.json: field sha256 = ");
    }

    @Test
    void namesThatBecomePathsCannotEscapeTheirFolder() throws Exception {
        assertProblem(broken(inc(), o -> o.put("file", "../x")), "m.json: field file = \"../x\": does not have the expected form");
        assertProblem(broken(inc(), o -> o.put("file", "../../etc/FULL-20261124T100000.000Z.qcow2")), "field file = ");
        assertProblem(broken(inc(), o -> o.put("parent", "../" + FULL)), "m.json: field parent = ");
        assertProblem(broken(inc(), o -> o.put("device", "..")), "m.json: field device = \"..\"");
        assertProblem(broken(inc(), o -> o.put("device", "a/b")), "m.json: field device = \"a/b\"");
        assertProblem(broken(inc(), o -> o.put("chainId", "../" + CHAIN)), "m.json: field chainId = ");
        // The record refuses them too, whoever builds it.
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new BackupManifest(1, "vm",
                "virtio0", CHAIN, 0, Level.FULL, "../x", null, "b", 1, 1, "a".repeat(64), Instant.EPOCH, Instant.EPOCH,
                Instant.EPOCH, 0, 0, 0));
        assertTrue(e.getMessage().contains("file must be a plain file name"), e.getMessage());
    }

    @Test
    void parentIsNullExactlyForAFull() throws Exception {
        assertProblem(broken(full(), o -> o.put("parent", INC)), "m.json: field parent = \"" + INC + "\": must be null, found string");
        assertProblem(broken(full(), o -> o.put("sequence", 2)), "m.json: field sequence = 2: must be 0");
        assertProblem(broken(inc(), o -> o.putNull("parent")), "m.json: field parent = null: must be a string");
        assertProblem(broken(inc(), o -> o.put("sequence", 0)), "m.json: field sequence = 0: must be at least 1");
    }

    @Test
    void otherFormatsAndNonJsonAreRefused() {
        BadInputException future = assertThrows(BadInputException.class,
                () -> BackupManifest.parse(inc().toJson().replace("\"formatVersion\" : 1", "\"formatVersion\" : 2"), "m.json"));
        assertTrue(future.getMessage().contains("m.json: backup manifest formatVersion 2 is not supported"), future.getMessage());
        BadInputException notJson = assertThrows(BadInputException.class, () -> BackupManifest.parse("not json", "y.json"));
        assertTrue(notJson.getMessage().startsWith("y.json:"), notJson.getMessage());
        BadInputException dup = assertThrows(BadInputException.class,
                () -> BackupManifest.parse(inc().toJson().replace("\"epoch\" : 3", "\"epoch\" : 3, \"epoch\" : 4"), "d.json"));
        assertTrue(dup.getMessage().contains("epoch"), dup.getMessage());
    }

    private static BadInputException broken(BackupManifest m, Consumer<ObjectNode> change) throws Exception {
        ObjectNode o = (ObjectNode) JSON.readTree(m.toJson());
        change.accept(o);
        return assertThrows(BadInputException.class, () -> BackupManifest.parse(o.toString(), "m.json"));
    }

    private static void assertProblem(BadInputException e, String expected) {
        assertTrue(e.problems().stream().anyMatch(p -> p.contains(expected)), "expected '" + expected + "' in: "
                + e.problems());
    }
}

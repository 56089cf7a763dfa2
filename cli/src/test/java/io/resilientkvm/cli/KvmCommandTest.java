package io.resilientkvm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.cli.kvm.KvmCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bin/kvm contract: exit codes, one line per problem, JSON output. */
class KvmCommandTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    static Run kvm(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CommandRunner.run(new KvmCommand(), new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void theExamplesAreValid() {
        for (String example : new String[] {"defaults", "small-vm", "external-disks", "resilient"}) {
            Path file = Path.of("..", "examples", example + ".json");
            Run r = kvm("validate", file.toString());
            assertEquals(0, r.code(), example + ": " + r.err());
            assertTrue(r.out().contains("valid"), r.out());
        }
        assertTrue(kvm("validate", "../examples/resilient.json").out().contains("resilient"), "auto-detected as resilient");
    }

    @Test
    void badParametersExitTwoWithOneLinePerProblemAndNoStackTrace() throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.json"), "{\"ram_size\": 2048, \"cpu-count\": 0, \"use-nat\": \"true\"}");
        Run r = kvm("validate", bad.toString());
        assertEquals(2, r.code());
        String[] lines = r.err().strip().split("\\R");
        assertEquals(3, lines.length, r.err());
        assertTrue(r.err().contains(bad + ": ram_size = 2048: is not a known parameter; did you mean ram-size?"), r.err());
        assertFalse(r.err().contains("Exception"), r.err());
    }

    @Test
    void jsonOutputCarriesViolationsAndEffectiveParameters() throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.json"), "{\"ram-size\": 64}");
        Run r = kvm("validate", "--json", bad.toString());
        assertEquals(2, r.code());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertFalse(j.path("valid").asBoolean());
        assertEquals("ram-size", j.at("/violations/0/parameter").asText());
        assertEquals(40, j.at("/effective/disk-size").asInt());
    }

    @Test
    void usageErrorsExitTwo() {
        assertEquals(2, kvm("validate").code());
        assertEquals(2, kvm("frobnicate").code());
        assertEquals(2, kvm("validate", dir.resolve("missing.json").toString()).code());
    }

    @Test
    void cmdlinePrintsTheArgvAsJsonWithoutCreatingAnything() throws Exception {
        Path data = dir.resolve("inst");
        Run r = kvm("cmdline", "../examples/small-vm.json", "--data-dir", data.toString(), "--accel", "tcg");
        assertEquals(0, r.code(), r.err());
        JsonNode argv = new ObjectMapper().readTree(r.out());
        assertTrue(argv.isArray());
        assertEquals("qemu-system-x86_64", argv.get(0).asText());
        assertTrue(r.out().contains("unix:" + data.toAbsolutePath() + "/run/qmp.sock"), r.out());
        assertFalse(Files.exists(data), "cmdline must not create the instance");
    }

    @Test
    void schemaListsParametersWithDefaults() {
        Run r = kvm("schema");
        assertEquals(0, r.code());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("ram-size") && l.contains("(default: 4096)")), r.out());
        Run res = kvm("schema", "resilient_instance");
        assertTrue(res.out().contains("remove-backup-older-than"), res.out());
        assertTrue(res.out().lines().anyMatch(l -> l.startsWith("ram-size") && l.contains("(default: 4096)")), res.out());
    }
}

package io.resilientkvm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.cli.kvm.KvmCommand;
import io.resilientkvm.engine.disk.QemuImg;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

    /**
     * The seed's own test map (SlapOS software/kvm test.py, ExternalDiskModernMixin): names with spaces, the
     * second disk's path relative to the instance directory, {@code "format": "qcow"}, {@code cache: none}.
     */
    @Test
    void cmdlineTakesTheSeedSuitesThreeDiskMapInIndexOrderWithItsOptions() throws Exception {
        Path data = dir.resolve("edm0");
        Path work = Files.createDirectories(dir.resolve("work"));
        Files.createDirectories(data);
        QemuImg qemuImg = new QemuImg();
        Path first = work.resolve("first_disk");
        qemuImg.create(first, "qcow", 1 << 20);
        qemuImg.create(data.resolve("second_disk"), "qcow2", 1 << 20);
        Path third = work.resolve("third_disk");
        qemuImg.create(third, "qcow2", 1 << 20);
        Path params = Files.writeString(dir.resolve("edm.json"), """
                {"use-tap": false, "external-disk": {
                  "second disk": {"path": "second_disk", "index": 2},
                  "third disk": {"path": "%s", "index": 3, "cache": "none"},
                  "first disk": {"path": "%s", "index": 1, "format": "qcow"}}}""".formatted(third, first));

        assertEquals(0, kvm("validate", params.toString()).code());
        Run r = kvm("cmdline", params.toString(), "--data-dir", data.toString(), "--accel", "tcg");
        assertEquals(0, r.code(), r.err());
        JsonNode argv = new ObjectMapper().readTree(r.out());
        List<JsonNode> formats = new ArrayList<>();
        List<JsonNode> files = new ArrayList<>();
        List<String> devices = new ArrayList<>();
        for (int i = 0; i < argv.size() - 1; i++) {
            String value = argv.get(i + 1).asText();
            if (argv.get(i).asText().equals("-blockdev")) {
                JsonNode node = new ObjectMapper().readTree(value);
                (node.path("driver").asText().equals("file") ? files : formats).add(node);
            } else if (argv.get(i).asText().equals("-device") && value.contains("drive=")) {
                devices.add(value);
            }
        }
        assertEquals(4, formats.size(), r.out());
        assertEquals(List.of("virtual1", "disk-first_disk.db379bdf", "disk-second_disk.d5fca699", "disk-third_disk.907c7112"),
                formats.stream().map(n -> n.path("node-name").asText()).toList(), "index order, ids derived from the names");
        assertEquals(List.of("qcow2", "qcow", "qcow2", "qcow2"), formats.stream().map(n -> n.path("driver").asText()).toList(),
                "qcow passed through as QEMU's driver; the second's format detected by qemu-img");
        assertEquals(List.of(data.toAbsolutePath() + "/disks/virtual.qcow2", first.toString(),
                data.toAbsolutePath() + "/second_disk", third.toString()),
                files.stream().map(n -> n.path("filename").asText()).toList(), "the relative path resolved against the instance directory");
        assertEquals(List.of(false, false, false, true), files.stream().map(n -> n.at("/cache/direct").asBoolean()).toList(),
                "writeback by default, cache none on the third");
        assertEquals(List.of("virtio-blk-pci,drive=virtual1,id=virtio0,write-cache=on,bootindex=0",
                "virtio-blk-pci,drive=disk-first_disk.db379bdf,id=disk-first_disk.db379bdf,write-cache=on",
                "virtio-blk-pci,drive=disk-second_disk.d5fca699,id=disk-second_disk.d5fca699,write-cache=on",
                "virtio-blk-pci,drive=disk-third_disk.907c7112,id=disk-third_disk.907c7112,write-cache=on"), devices);
        assertFalse(Files.exists(data.resolve("etc")), "cmdline records nothing");
    }

    @Test
    void aDiskNameWithAControlCharacterIsRefusedNamingTheDisk() throws Exception {
        Path params = Files.writeString(dir.resolve("bad-name.json"),
                "{\"external-disk\": {\"first\\ndisk\": {\"path\": \"/srv/a.qcow2\"}}}");
        Run r = kvm("validate", params.toString());
        assertEquals(2, r.code(), r.out());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("external-disk = \"first\\ndisk\": has a name that is not allowed: a name must not be empty"
                + " nor hold control characters (newline, tab)"), r.err());
    }

    @Test
    void automaticTakeoverIsRefusedWithExitTwoUntilItExists() throws Exception {
        Path on = Files.writeString(dir.resolve("auto.json"), "{\"takeover-automatic\": true}");
        Run r = kvm("validate", on.toString());
        assertEquals(2, r.code(), r.out());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("takeover-automatic = true: automatic takeover is not implemented yet"), r.err());
        assertTrue(r.err().contains("run bin/takeover --config NODE.json on the clone"), r.err());
        Path off = Files.writeString(dir.resolve("manual.json"), "{\"takeover-automatic\": false}");
        assertEquals(0, kvm("validate", off.toString()).code());
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

package io.resilientkvm.cli.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.engine.process.QemuLaunch;
import io.resilientkvm.engine.process.QemuProcess;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/exporter against a real QEMU: backup, --list --json with the bitmap flags,
 * --remove-bitmaps, and the full that follows. QEMU gets a second QMP socket for the command
 * (one client per socket), as bin/kvm run gives the exporter run/qmp-backup.sock.
 */
class ExporterCommandQemuTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    private static Run exporter(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CommandRunner.run(new ExporterCommand(), new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void listShowsBitmapFlagsAndRemoveBitmapsClosesTheChain() throws Exception {
        Path disk = dir.resolve("disk.qcow2");
        new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", disk.toString(), "32M").inheritIO().start().waitFor();
        assertTrue(Files.exists(disk));
        Path supervisorQmp = dir.resolve("qmp.sock");
        Path qmp = dir.resolve("qmp-backup.sock");
        Path target = dir.resolve("backups");
        List<String> argv = List.of("qemu-system-x86_64", "-nodefaults", "-display", "none", "-machine", "pc",
                "-accel", Files.isWritable(Path.of("/dev/kvm")) ? "kvm" : "tcg", "-m", "128", "-name", "vm1",
                "-qmp", "unix:" + supervisorQmp + ",server=on,wait=off", "-qmp", "unix:" + qmp + ",server=on,wait=off",
                "-blockdev", "driver=file,filename=" + disk + ",node-name=virtio0-file",
                "-blockdev", "driver=qcow2,file=virtio0-file,node-name=virtio0-fmt",
                "-device", "virtio-blk-pci,drive=virtio0-fmt,id=virtio0");
        try (QemuProcess qemu = QemuProcess.start(new QemuLaunch(argv, supervisorQmp, dir.resolve("qemu.log"))
                .withStartTimeout(Duration.ofSeconds(60)))) {
            Run full = exporter("--qmp", qmp.toString(), "--target", target.toString(), "--json");
            assertEquals(0, full.code(), full.err());
            JsonNode made = JSON.readTree(full.out()).get(0);
            assertEquals("FULL", made.path("level").asText());
            String bitmap = "qmpbackup-virtio0-" + made.path("chain").asText();

            Run list = exporter("--qmp", qmp.toString(), "--list", "--json");
            assertEquals(0, list.code(), list.err());
            JsonNode b = JSON.readTree(list.out()).get(0).path("bitmaps").get(0);
            assertEquals(bitmap, b.path("name").asText());
            assertTrue(b.path("recording").asBoolean() && b.path("persistent").asBoolean(), b.toString());
            assertFalse(b.path("busy").asBoolean() || b.path("inconsistent").asBoolean(), b.toString());
            assertEquals(65536, b.path("granularity").asLong());

            Run text = exporter("--qmp", qmp.toString(), "--list");
            assertTrue(text.out().contains(bitmap + " [recording,persistent]"), text.out());

            Run removed = exporter("--qmp", qmp.toString(), "--target", target.toString(), "--remove-bitmaps");
            assertEquals(0, removed.code(), removed.err());
            assertTrue(removed.out().contains("removed virtio0/" + bitmap), removed.out());
            Run after = exporter("--qmp", qmp.toString(), "--list", "--json");
            assertTrue(JSON.readTree(after.out()).get(0).path("bitmaps").isEmpty(), after.out());

            Run next = exporter("--qmp", qmp.toString(), "--target", target.toString(), "--json", "--pause");
            assertEquals(0, next.code(), next.err());
            assertEquals("FULL", JSON.readTree(next.out()).get(0).path("level").asText());
            assertEquals("running", qemu.qmp().execute("query-status").path("status").asText());
        }
    }
}

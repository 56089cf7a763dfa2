package io.resilientkvm.drill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.cli.CommandRunner;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bin/drill: bad options are exit 2 naming the problem; a busy --dir is kept. */
class DrillCommandTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CommandRunner.run(new DrillCommand(), new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void drillOptionsAreChecked() throws Exception {
        assertEquals(2, run("--disk-size", "100").code());
        assertEquals(2, run("--interval", "7").code());
        Files.writeString(Files.createDirectories(dir.resolve("busy")).resolve("keep-me"), "data");
        Run busy = run("--dir", dir.resolve("busy").toString());
        assertEquals(2, busy.code(), busy.err());
        assertTrue(busy.err().contains("not empty"), busy.err());
        assertTrue(Files.exists(dir.resolve("busy/keep-me")), "a drill never removes a folder it did not create");
    }

    @Test
    void theNamespaceOptionsAreChecked() {
        Run cut = run("--disaster", "cut");
        assertEquals(2, cut.code(), cut.err());
        assertTrue(cut.err().contains("--disaster cut needs --hosts"), cut.err());
        Run other = run("--disaster", "flood");
        assertEquals(2, other.code(), other.err());
        assertTrue(other.err().contains("give kill or cut"), other.err());
        Run zk = run("--hosts", "--zookeeper", "127.0.0.1:2181");
        assertEquals(2, zk.code(), zk.err());
        assertTrue(zk.err().contains("give one or the other"), zk.err());
        Run bed = run("--bed", "rkvm-1-abcd");
        assertEquals(2, bed.code(), bed.err());
        assertTrue(bed.err().contains("run bin/drill --hosts"), bed.err());
    }
}

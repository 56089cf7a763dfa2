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
}

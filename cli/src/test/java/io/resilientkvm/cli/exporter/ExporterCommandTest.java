package io.resilientkvm.cli.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.exporter.qmp.DirtyBitmap;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bin/exporter's operator options: contradictions are bad input (exit 2) before anything runs. */
class ExporterCommandTest {
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
    void newChainWithLevelIncIsBadInput() {
        Run r = exporter("--qmp", dir.resolve("q.sock").toString(), "--target", dir.toString(), "--new-chain",
                "--level", "inc");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--new-chain"), r.err());
    }

    @Test
    void aBadNewChainPolicyIsBadInputNamingTheOption() {
        Run r = exporter("--qmp", dir.resolve("q.sock").toString(), "--target", dir.toString(), "--new-chain-every", "1Y");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--new-chain-every") && r.err().contains("7D, 2W or 1M"), r.err());
    }

    @Test
    void requireQuiesceWithoutAnAgentIsBadInput() {
        Run r = exporter("--qmp", dir.resolve("q.sock").toString(), "--target", dir.toString(), "--require-quiesce");
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("--guest-agent"), r.err());
    }

    @Test
    void removeOneAndRemoveAllTogetherIsBadInput() {
        Run r = exporter("--qmp", dir.resolve("q.sock").toString(), "--target", dir.toString(), "--remove-bitmap", "x",
                "--remove-bitmaps");
        assertEquals(2, r.code(), r.err());
    }

    @Test
    void bitmapFlagsReadAsWords() {
        assertEquals("recording,persistent", ExporterCommand.flags(new DirtyBitmap("b", true, false, true, false, 65536, 0)));
        assertEquals("DISABLED,busy,INCONSISTENT", ExporterCommand.flags(new DirtyBitmap("b", false, true, false, true, 65536, 0)));
    }
}

package io.resilientkvm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.RefusedException;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The base every command extends: --verbose, JSON or text, the exit status as the code. */
class CliCommandTest {
    @Command(name = "probe", mixinStandardHelpOptions = true, description = "a command on the base, for this test")
    static final class Probe extends CliCommand {
        @Option(names = "--json", description = "print the result as JSON")
        boolean json;

        @Option(names = "--end", defaultValue = "OK", description = "how the command ends")
        ExitStatus end;

        @Option(names = "--refuse", description = "throw a refusal")
        boolean refuse;

        @Override
        protected ExitStatus execute() throws Exception {
            if (refuse) {
                throw new RefusedException("the probe refuses");
            }
            print(json, JSON.createObjectNode().put("answer", 42), "the answer is 42");
            err().println("done");
            return end;
        }
    }

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CommandRunner.run(new Probe(), new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void printsTextOrTheJacksonTreeAndFlushesBoth() throws Exception {
        Run text = run();
        assertEquals(0, text.code(), text.err());
        assertEquals("the answer is 42", text.out().strip());
        assertEquals("done", text.err().strip());

        Run json = run("--json", "--verbose");
        assertEquals(0, json.code(), json.err());
        JsonNode tree = new ObjectMapper().readTree(json.out());
        assertEquals(42, tree.path("answer").asInt());
        assertEquals("{\n  \"answer\" : 42\n}", json.out().strip().replace(System.lineSeparator(), "\n"), "pretty-printed");
    }

    @Test
    void theReturnedStatusIsTheExitCodeAndFailuresGoThroughExitStatus() {
        assertEquals(ExitStatus.FAILED.code(), run("--end", "FAILED").code());
        assertEquals(ExitStatus.BAD_INPUT.code(), run("--end", "BAD_INPUT").code());
        Run refused = run("--refuse");
        assertEquals(ExitStatus.REFUSED.code(), refused.code());
        assertTrue(refused.err().contains("refused: the probe refuses"), refused.err());
        Run usage = run("--no-such-option");
        assertEquals(ExitStatus.BAD_INPUT.code(), usage.code());
    }

    @Test
    void everyCommandOnTheBaseHasVerbose() {
        Run help = run("--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("--verbose"), help.out());
    }
}

package io.resilientkvm.it.netbed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.drill.DrillCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Runs {@code bin/drill --hosts} (the command itself, in this JVM; it runs the drill on the bed) and reads its JSON report. */
final class DrillOnBed {
    private static final Logger LOG = LoggerFactory.getLogger(DrillOnBed.class);

    private DrillOnBed() {
    }

    /** The report of a drill that must have passed (exit 0, every check passed); its timings are logged. */
    static JsonNode passed(String... options) throws Exception {
        List<String> args = new ArrayList<>(List.of("--hosts", "--json"));
        args.addAll(List.of(options));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        long t0 = System.nanoTime();
        int exit = CommandRunner.run(new DrillCommand(), new PrintWriter(out, true), new PrintWriter(err, true), args.toArray(String[]::new));
        LOG.info("bin/drill {} took {} s (exit {})", String.join(" ", args), String.format("%.1f", (System.nanoTime() - t0) / 1e9), exit);
        assertEquals(0, exit, "drill failed:\n" + out + "\n" + err);
        JsonNode report = new ObjectMapper().readTree(out.toString());
        assertTrue(report.path("passed").asBoolean(), out.toString());
        report.path("checks").forEach(c -> assertTrue(c.path("passed").asBoolean(), c.toString()));
        report.path("timings").forEach(t -> LOG.info("round {}: {}: {} s", t.path("round").asInt(), t.path("name").asText(),
                String.format("%.2f", t.path("seconds").asDouble())));
        return report;
    }

    /** The one check whose name contains {@code part} (it must exist and have passed). */
    static JsonNode check(JsonNode report, String part) {
        List<JsonNode> found = new ArrayList<>();
        report.path("checks").forEach(c -> {
            if (c.path("name").asText().contains(part)) {
                found.add(c);
            }
        });
        assertEquals(1, found.size(), "checks named '" + part + "' in " + report.path("checks"));
        assertTrue(found.get(0).path("passed").asBoolean(), found.get(0).toString());
        return found.get(0);
    }

    /** The timing of round 1 named {@code name}, in seconds (it must exist). */
    static double timing(JsonNode report, String name) {
        for (JsonNode t : report.path("timings")) {
            if (t.path("name").asText().equals(name)) {
                return t.path("seconds").asDouble();
            }
        }
        throw new AssertionError("no timing '" + name + "' in " + report.path("timings"));
    }
}

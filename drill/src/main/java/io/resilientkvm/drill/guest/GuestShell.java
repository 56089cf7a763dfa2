package io.resilientkvm.drill.guest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.exporter.quiesce.QgaClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;

/**
 * A shell command run inside the tiny guest through its QEMU guest agent ({@code guest-exec}),
 * for tests that must look from the inside (what the guest can reach, what it read).
 */
public final class GuestShell {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Its exit status and what it printed. */
    public record Result(int exit, String out, String err) {
    }

    private GuestShell() {
    }

    public static Result run(Path agentSocket, String command, Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        try (QgaClient qga = QgaClient.connect(agentSocket, timeout)) {
            qga.sync(timeout);
            ObjectNode args = JSON.createObjectNode().put("path", "/bin/sh").put("capture-output", true);
            args.putArray("arg").add("-c").add(command);
            long pid = qga.execute("guest-exec", args, timeout).path("pid").asLong();
            while (System.nanoTime() < deadline) {
                JsonNode st = qga.execute("guest-exec-status", JSON.createObjectNode().put("pid", pid), timeout);
                if (st.path("exited").asBoolean()) {
                    return new Result(st.path("exitcode").asInt(-1), decode(st.path("out-data")), decode(st.path("err-data")));
                }
                Thread.sleep(100); // the agent has no completion event; the deadline bounds the polling
            }
            throw new IOException("`" + command + "` did not finish in the guest within " + timeout.toSeconds() + " s");
        }
    }

    private static String decode(JsonNode b64) {
        return b64.isMissingNode() ? "" : new String(Base64.getDecoder().decode(b64.asText()), StandardCharsets.UTF_8);
    }
}

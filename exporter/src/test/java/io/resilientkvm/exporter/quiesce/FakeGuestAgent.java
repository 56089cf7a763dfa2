package io.resilientkvm.exporter.quiesce;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The host side of a QEMU guest agent, for tests: there is no guest OS here to run
 * qemu-guest-agent, so this speaks its JSON protocol on a unix socket (one client at a time,
 * like QEMU's chardev) and records the commands it got, with when.
 */
public final class FakeGuestAgent implements AutoCloseable {
    /** How the fake answers {@code guest-fsfreeze-freeze}. */
    public enum Freeze { OK, ERROR, SILENT }

    record Call(String command, Instant at) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    private final ServerSocketChannel server;
    private final Thread thread;
    private final List<Call> calls = new CopyOnWriteArrayList<>();
    private volatile Freeze freeze = Freeze.OK;
    private volatile boolean staleReplyFirst;

    public FakeGuestAgent(Path socket) throws IOException {
        Files.deleteIfExists(socket);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        thread = new Thread(this::serve, "fake-qga");
        thread.setDaemon(true);
        thread.start();
    }

    public void freeze(Freeze how) {
        this.freeze = how;
    }

    /** Sends a leftover reply before the sync's delimiter, as an agent does after a timed-out command. */
    void staleReplyFirst(boolean on) {
        this.staleReplyFirst = on;
    }

    List<Call> calls() {
        return List.copyOf(calls);
    }

    public List<String> commands() {
        return calls.stream().map(Call::command).filter(c -> !c.startsWith("guest-sync")).toList();
    }

    private void serve() {
        while (server.isOpen()) {
            try (SocketChannel client = server.accept()) {
                handle(client);
            } catch (IOException e) {
                // closed by the test or the client went away: accept the next one
            }
        }
    }

    private void handle(SocketChannel client) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(client),
                StandardCharsets.UTF_8));
        OutputStream out = Channels.newOutputStream(client);
        String line;
        while ((line = in.readLine()) != null) {
            String text = line.replace("\u00ff", "").strip(); // the client's 0xFF parser reset (read as latin-1 or U+FFFD)
            text = text.replace("\ufffd", "");
            if (text.isEmpty()) {
                continue;
            }
            JsonNode req = JSON.readTree(text);
            String cmd = req.path("execute").asText();
            calls.add(new Call(cmd, Instant.now()));
            switch (cmd) {
                case "guest-sync-delimited" -> {
                    if (staleReplyFirst) {
                        out.write("{\"return\": 3}\n".getBytes(StandardCharsets.UTF_8));
                    }
                    out.write(0xFF);
                    reply(out, "{\"return\": " + req.path("arguments").path("id").asLong() + "}");
                }
                case "guest-fsfreeze-freeze" -> {
                    switch (freeze) {
                        case OK -> reply(out, "{\"return\": 2}");
                        case ERROR -> reply(out, "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                                + "\"failed to freeze /: Device or resource busy\"}}");
                        case SILENT -> { }
                    }
                }
                case "guest-fsfreeze-thaw" -> reply(out, "{\"return\": 2}");
                default -> reply(out, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"" + cmd + "\"}}");
            }
        }
    }

    private static void reply(OutputStream out, String json) throws IOException {
        out.write((json + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        server.close();
        thread.interrupt();
    }
}

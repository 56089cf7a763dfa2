package io.resilientkvm.exporter.quiesce;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A minimal QEMU guest agent client over its unix socket (the host side of the virtio-serial
 * port, {@code -chardev socket,path=...,server=on,wait=off}). Every read has a deadline: an agent
 * that is not running inside the guest never answers, and the backup must not hang on it.
 *
 * <p>The agent keeps no request ids, so a reply to an earlier, timed-out request may still be in
 * the pipe; {@link #sync} ({@code guest-sync-delimited}: the agent answers with a 0xFF byte and
 * then our random id) discards everything before it. After a timeout the client is unusable:
 * open a new one.
 */
public final class QgaClient implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int DELIMITER = 0xFF;

    private final Path socket;
    private final SocketChannel channel;
    private final Selector selector;
    private final ByteBuffer in = ByteBuffer.allocate(8192);
    private boolean broken;

    private QgaClient(Path socket, SocketChannel channel, Selector selector) {
        this.socket = socket;
        this.channel = channel;
        this.selector = selector;
        in.flip();
    }

    /** Connects and synchronises with the agent within {@code timeout}. */
    public static QgaClient connect(Path socket, Duration timeout) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        Selector sel = null;
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.configureBlocking(false);
            sel = Selector.open();
            ch.register(sel, SelectionKey.OP_READ);
            QgaClient c = new QgaClient(socket, ch, sel);
            c.sync(timeout);
            return c;
        } catch (IOException | RuntimeException e) {
            if (sel != null) {
                sel.close();
            }
            ch.close();
            throw e;
        }
    }

    /**
     * {@code guest-sync-delimited}: after it, the next line read is the reply to the next command.
     * A 0xFF byte is sent first so the agent drops any half-parsed input.
     */
    public void sync(Duration timeout) throws IOException {
        long id = ThreadLocalRandom.current().nextLong(1, Integer.MAX_VALUE);
        ObjectNode req = JSON.createObjectNode().put("execute", "guest-sync-delimited");
        req.putObject("arguments").put("id", id);
        long deadline = System.nanoTime() + timeout.toNanos();
        write(new byte[] {(byte) DELIMITER}, deadline);
        write((JSON.writeValueAsString(req) + "\n").getBytes(StandardCharsets.UTF_8), deadline);
        // Skip everything up to the agent's delimiter, then lines until our id comes back.
        while (readByte(deadline) != DELIMITER) {
            // stale bytes of an earlier reply
        }
        while (true) {
            JsonNode reply = JSON.readTree(readLine(deadline));
            if (reply.path("return").asLong(-1) == id) {
                return;
            }
        }
    }

    /**
     * Runs one command and returns its {@code return} value.
     *
     * @throws QgaException the agent answered with an error
     * @throws IOException  the socket failed or no answer came within {@code timeout}
     */
    public JsonNode execute(String command, Duration timeout) throws IOException {
        return execute(command, null, timeout);
    }

    /** Runs one command with {@code arguments} (none when null) and returns its {@code return} value. */
    public JsonNode execute(String command, JsonNode arguments, Duration timeout) throws IOException {
        if (broken) {
            throw new IOException("guest agent client on " + socket + " is unusable after an earlier timeout");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        com.fasterxml.jackson.databind.node.ObjectNode request = JSON.createObjectNode().put("execute", command);
        if (arguments != null) {
            request.set("arguments", arguments);
        }
        write((JSON.writeValueAsString(request) + "\n").getBytes(StandardCharsets.UTF_8), deadline);
        JsonNode reply = JSON.readTree(readLine(deadline));
        if (reply.has("error")) {
            JsonNode err = reply.get("error");
            throw new QgaException(command, err.path("class").asText("GenericError"), err.path("desc").asText(""));
        }
        return reply.path("return");
    }

    private void write(byte[] bytes, long deadline) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            if (channel.write(b) == 0) {
                waitFor(SelectionKey.OP_WRITE, deadline);
            }
        }
    }

    private int readByte(long deadline) throws IOException {
        while (!in.hasRemaining()) {
            in.clear();
            int n;
            while ((n = channel.read(in)) == 0) {
                waitFor(SelectionKey.OP_READ, deadline);
            }
            in.flip();
            if (n < 0) {
                broken = true;
                throw new IOException("guest agent socket " + socket + " closed by the other side");
            }
        }
        return in.get() & 0xFF;
    }

    private String readLine(long deadline) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = readByte(deadline)) != '\n') {
            if (b != DELIMITER) {
                line.write(b);
            }
            if (line.size() > 1 << 20) {
                broken = true;
                throw new IOException("guest agent on " + socket + " sent a line over 1 MiB");
            }
        }
        return line.toString(StandardCharsets.UTF_8);
    }

    private void waitFor(int op, long deadline) throws IOException {
        SelectionKey key = channel.keyFor(selector);
        key.interestOps(op);
        long left = deadline - System.nanoTime();
        if (left <= 0 || selector.select(Math.max(1, left / 1_000_000)) == 0 && System.nanoTime() >= deadline) {
            broken = true;
            throw new QgaTimeoutException("no answer from the guest agent on " + socket
                    + " in time (is qemu-guest-agent running in the guest?)");
        }
        selector.selectedKeys().clear();
    }

    public Path socket() {
        return socket;
    }

    @Override
    public void close() throws IOException {
        try {
            selector.close();
        } finally {
            channel.close();
        }
    }

    /** The agent answered a command with an error. */
    public static final class QgaException extends IOException {
        private static final long serialVersionUID = 1L;

        public QgaException(String command, String errorClass, String description) {
            super("guest agent: " + command + " failed: " + errorClass + ": " + description);
        }
    }

    /** The agent did not answer within the timeout. */
    public static final class QgaTimeoutException extends IOException {
        private static final long serialVersionUID = 1L;

        public QgaTimeoutException(String message) {
            super(message);
        }
    }
}

package io.resilientkvm.engine.qmp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A QMP client on a Unix domain socket: the connection, the greeting and the commands. One
 * reader thread matches replies to requests by {@code id} and passes the events that interleave
 * with them to {@link QmpEvents} (streams, and listeners on their own thread, so that listeners
 * may themselves issue commands). Every command has a timeout.
 *
 * <pre>{@code
 * try (QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(10))) {
 *     JsonNode status = qmp.execute("query-status");
 * }
 * }</pre>
 */
public final class QmpClient implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QmpClient.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(30);

    private final Path socket;
    private final SocketChannel channel;
    private final QmpLineReader reader;
    private final Object writeLock = new Object();
    private final AtomicLong nextId = new AtomicLong();
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();
    private final QmpEvents events;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Duration commandTimeout;
    private volatile QmpGreeting greeting;
    private volatile String endReason;

    private record Pending(String command, CompletableFuture<JsonNode> reply) {}

    private QmpClient(Path socket, SocketChannel channel, Duration commandTimeout) {
        this.socket = socket;
        this.channel = channel;
        this.commandTimeout = commandTimeout;
        this.reader = new QmpLineReader(channel);
        String name = socket.getFileName() == null ? "qmp" : socket.getFileName().toString();
        this.events = new QmpEvents(name);
    }

    /**
     * Connects, reads the greeting and negotiates capabilities, all within {@code timeout}.
     * Commands then use {@link #DEFAULT_COMMAND_TIMEOUT} unless given their own.
     */
    public static QmpClient connect(Path socket, Duration timeout) throws QmpException {
        return connect(socket, timeout, DEFAULT_COMMAND_TIMEOUT);
    }

    public static QmpClient connect(Path socket, Duration timeout, Duration commandTimeout) throws QmpException {
        Objects.requireNonNull(socket, "socket");
        SocketChannel channel;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        } catch (IOException e) {
            throw new QmpConnectionException("cannot open a Unix socket: " + e.getMessage(), e);
        }
        try {
            channel.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            closeQuietly(channel);
            throw new QmpConnectionException("cannot connect to QMP socket " + socket + ": " + e.getMessage()
                    + " (is QEMU running with -qmp unix:" + socket + ",server=on,wait=off?)", e);
        }
        QmpClient client = new QmpClient(socket, channel, commandTimeout);
        try {
            client.handshake(timeout);
            return client;
        } catch (QmpException | RuntimeException e) {
            client.close();
            throw e;
        }
    }

    private void handshake(Duration timeout) throws QmpException {
        // The greeting is read on a helper thread so that a peer that never speaks cannot hang us.
        CompletableFuture<JsonNode> first = CompletableFuture.supplyAsync(() -> {
            try {
                byte[] line = reader.readLine();
                return line == null ? null : JSON.readTree(line);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, runnable -> {
            Thread t = new Thread(runnable, "qmp-greeting");
            t.setDaemon(true);
            t.start();
        });
        JsonNode hello;
        try {
            hello = first.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new QmpTimeoutException("no QMP greeting from " + socket + " within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            throw new QmpConnectionException("reading the QMP greeting from " + socket + " failed: "
                    + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("interrupted while connecting to " + socket, e);
        }
        if (hello == null || !hello.has("QMP")) {
            throw new QmpConnectionException(socket + " did not greet with QMP: " + hello);
        }
        greeting = QmpGreeting.of(hello);

        Thread readerThread = new Thread(this::readLoop, "qmp-reader-" + socket.getFileName());
        readerThread.setDaemon(true);
        readerThread.start();
        execute("qmp_capabilities", null, timeout);
        LOG.debug("QMP connected to {} (QEMU {})", socket, greeting.version());
    }

    public QmpGreeting greeting() {
        return greeting;
    }

    public Path socket() {
        return socket;
    }

    public boolean isOpen() {
        return !closed.get() && endReason == null;
    }

    /** Runs a command without arguments with the default timeout; returns its {@code return} value. */
    public JsonNode execute(String command) throws QmpException {
        return execute(command, null, commandTimeout);
    }

    /** Runs a command with the default timeout; returns its {@code return} value. */
    public JsonNode execute(String command, JsonNode arguments) throws QmpException {
        return execute(command, arguments, commandTimeout);
    }

    /** Runs a command; returns its {@code return} value or throws {@link QmpErrorException}. */
    public JsonNode execute(String command, JsonNode arguments, Duration timeout) throws QmpException {
        Objects.requireNonNull(command, "command");
        String id = "rkvm-" + nextId.incrementAndGet();
        ObjectNode request = JsonNodeFactory.instance.objectNode();
        request.put("execute", command);
        if (arguments != null && !arguments.isNull()) {
            request.set("arguments", arguments);
        }
        request.put("id", id);
        Pending p = new Pending(command, new CompletableFuture<>());
        pending.put(id, p);
        try {
            if (endReason != null || closed.get()) {
                throw new QmpConnectionException("QMP connection to " + socket + " is closed"
                        + (endReason == null ? "" : ": " + endReason));
            }
            write(request);
            return p.reply().get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new QmpTimeoutException("QEMU did not answer '" + command + "' within " + timeout.toMillis()
                    + " ms (socket " + socket + ")");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof QmpException q) {
                throw rethrowable(q);
            }
            throw new QmpException("'" + command + "' failed: " + cause, cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QmpException("interrupted while waiting for '" + command + "'", e);
        } finally {
            pending.remove(id);
        }
    }

    /** Exceptions cross threads: give the caller a fresh one with its own stack. */
    private static QmpException rethrowable(QmpException q) {
        if (q instanceof QmpErrorException err) {
            return new QmpErrorException(err.command(), err.errorClass(), err.description());
        }
        if (q instanceof QmpConnectionException) {
            return new QmpConnectionException(q.getMessage(), q);
        }
        return q;
    }

    /** Runs an HMP command through {@code human-monitor-command} and returns its output. */
    public String humanMonitorCommand(String commandLine) throws QmpException {
        return humanMonitorCommand(commandLine, commandTimeout);
    }

    public String humanMonitorCommand(String commandLine, Duration timeout) throws QmpException {
        ObjectNode args = JsonNodeFactory.instance.objectNode().put("command-line", commandLine);
        return execute("human-monitor-command", args, timeout).asText("");
    }

    /** Adds a listener for every event; close the returned registration to remove it. */
    public Registration addListener(QmpEventListener listener) {
        return events.addListener(listener);
    }

    /** Opens a queue of the events accepted by {@code filter}. */
    public QmpEventStream openEventStream(Predicate<QmpEvent> filter) {
        return events.openStream(filter);
    }

    /** A queue of the events with one of {@code names}. */
    public QmpEventStream openEventStream(String... names) {
        List<String> wanted = List.of(names);
        return openEventStream(e -> wanted.contains(e.name()));
    }

    /** A handle that removes a listener; closing twice is harmless. */
    @FunctionalInterface
    public interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    private void write(JsonNode message) throws QmpException {
        byte[] bytes;
        try {
            bytes = (JSON.writeValueAsString(message) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new QmpException("cannot encode QMP message: " + e.getMessage(), e);
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        synchronized (writeLock) {
            try {
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
            } catch (IOException e) {
                throw new QmpConnectionException("writing to QMP socket " + socket + " failed: " + e.getMessage(), e);
            }
        }
    }

    private void readLoop() {
        String reason = "QEMU closed the QMP connection (did it exit?)";
        try {
            byte[] line;
            while ((line = reader.readLine()) != null) {
                if (line.length == 0) {
                    continue;
                }
                dispatch(JSON.readTree(line));
            }
        } catch (IOException e) {
            reason = closed.get() ? "closed by this client" : "QMP read failed: " + e.getMessage();
        } catch (RuntimeException e) {
            reason = "QMP reader failed: " + e;
            LOG.error("QMP reader for {} stopped", socket, e);
        }
        end(closed.get() ? "closed by this client" : reason);
    }

    private void dispatch(JsonNode message) {
        if (QmpEvents.isEvent(message)) {
            events.dispatch(message);
            return;
        }
        JsonNode id = message.get("id");
        Pending p = id == null ? null : pending.get(id.asText());
        if (p == null) {
            LOG.debug("QMP message nobody waits for (late reply after a timeout?): {}", message);
            return;
        }
        if (message.has("error")) {
            JsonNode err = message.get("error");
            p.reply().completeExceptionally(new QmpErrorException(p.command(), err.path("class").asText("GenericError"),
                    err.path("desc").asText("")));
        } else {
            p.reply().complete(message.path("return"));
        }
    }

    private void end(String reason) {
        endReason = reason;
        QmpConnectionException failure = new QmpConnectionException("QMP connection to " + socket + " ended: " + reason);
        pending.values().forEach(p -> p.reply().completeExceptionally(failure));
        events.end(reason);
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        closeQuietly(channel);
        if (endReason == null) {
            end("closed by this client");
        }
        events.close();
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.debug("closing QMP socket failed", e);
        }
    }

    @Override
    public String toString() {
        return "QmpClient[" + socket + (isOpen() ? "" : ", closed") + "]";
    }
}

package io.resilientkvm.engine.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The event side of a {@link QmpClient}: turns event messages into {@link QmpEvent}s and hands
 * them to the open streams at once (on the reader thread) and to the listeners on one event
 * thread of their own, so that a listener may itself issue commands.
 */
final class QmpEvents {
    private static final Logger LOG = LoggerFactory.getLogger(QmpEvents.class);

    private final List<QmpEventListener> listeners = new CopyOnWriteArrayList<>();
    private final List<QmpEventStream> streams = new CopyOnWriteArrayList<>();
    private final ExecutorService eventThread;
    private volatile String endReason;

    QmpEvents(String name) {
        this.eventThread = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "qmp-events-" + name);
            t.setDaemon(true);
            return t;
        });
    }

    /** True when {@code message} is an event, not a reply. */
    static boolean isEvent(JsonNode message) {
        return message.has("event");
    }

    /** Delivers one event message (called by the reader thread, in arrival order). */
    void dispatch(JsonNode message) {
        JsonNode ts = message.path("timestamp");
        Instant when = ts.isObject()
                ? Instant.ofEpochSecond(ts.path("seconds").asLong(), ts.path("microseconds").asLong() * 1000)
                : Instant.now();
        QmpEvent event = new QmpEvent(message.get("event").asText(), message.get("data"), when);
        LOG.trace("QMP event {}", message);
        for (QmpEventStream s : streams) {
            s.offer(event);
        }
        if (!listeners.isEmpty()) {
            eventThread.execute(() -> deliver(event));
        }
    }

    QmpClient.Registration addListener(QmpEventListener listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    QmpEventStream openStream(Predicate<QmpEvent> filter) {
        QmpEventStream[] holder = new QmpEventStream[1];
        holder[0] = new QmpEventStream(filter, () -> streams.remove(holder[0]));
        streams.add(holder[0]);
        // Added before the check: a stream opened while the connection ends is ended by one of the two.
        if (endReason != null) {
            holder[0].end(endReason);
        }
        return holder[0];
    }

    /** The connection ended: every open stream ends with {@code reason}. */
    void end(String reason) {
        endReason = reason;
        streams.forEach(s -> s.end(reason));
    }

    /** Stops the event thread (events already queued for listeners still run). */
    void close() {
        eventThread.shutdown();
    }

    private void deliver(QmpEvent event) {
        for (QmpEventListener l : listeners) {
            try {
                l.onEvent(event);
            } catch (RuntimeException e) {
                LOG.warn("QMP event listener failed on {}", event.name(), e);
            }
        }
    }
}

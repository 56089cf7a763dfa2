package io.resilientkvm.exporter.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpErrorException;
import io.resilientkvm.engine.qmp.QmpEventStream;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.engine.qmp.QmpTimeoutException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes the backup jobs a killed exporter left in QEMU, whatever state each is in.
 *
 * <p>QEMU goes on with a job when its client dies, and the jobs of a grouped transaction move
 * each other on: cancelling one aborts the others, a finished one waits for the group. So one
 * verb at a time, then {@code query-jobs} again, until none of ours is left or the deadline
 * passes. Per state (QEMU's job verb table): {@code concluded} is dismissed; {@code created},
 * {@code running}, {@code paused}, {@code ready}, {@code standby}, {@code waiting} and
 * {@code pending} are cancelled (cancel, never finalize: a cancelled incremental keeps every
 * dirty bit); {@code aborting} is awaited (it concludes by itself). A verb refused because the
 * job moved on in between is not an error: the next look sees its new state.
 */
final class StaleJobs {
    private static final Logger LOG = LoggerFactory.getLogger(StaleJobs.class);
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final Duration POLL = Duration.ofSeconds(1);

    private StaleJobs() {
    }

    /** The verb that moves a job in {@code status} towards gone; null: wait for it. */
    static String verbFor(String status) {
        return switch (status) {
            case "concluded" -> "job-dismiss";
            case "created", "running", "paused", "ready", "standby", "waiting", "pending" -> "job-cancel";
            default -> null; // aborting concludes by itself; undefined and null are never shown
        };
    }

    /**
     * Removes every job whose id starts with {@code prefix} within {@code deadline}.
     *
     * @throws QmpException QMP broke off, or jobs remain at the deadline (named with their states)
     */
    static void remove(QmpClient qmp, String prefix, Duration deadline) throws QmpException {
        long end = System.nanoTime() + deadline.toNanos();
        Map<String, String> reported = new LinkedHashMap<>();
        Map<String, String> applied = new LinkedHashMap<>();
        try (QmpEventStream events = qmp.openEventStream("JOB_STATUS_CHANGE")) {
            while (true) {
                Map<String, String> ours = ours(qmp, prefix);
                if (ours.isEmpty()) {
                    return;
                }
                if (System.nanoTime() - end >= 0) {
                    throw new QmpException("backup jobs left by an interrupted run are still on the VM after "
                            + deadline.toSeconds() + " s: " + ours + "; check them with QMP query-jobs");
                }
                boolean movedOn = act(qmp, ours, reported, applied);
                if (!movedOn) {
                    try {
                        events.next(Duration.ofNanos(Math.max(1, Math.min(end - System.nanoTime(), POLL.toNanos()))));
                    } catch (QmpTimeoutException e) {
                        // look again
                    }
                }
            }
        }
    }

    /**
     * Applies one verb to the first job that takes one; true when QEMU accepted it (look again
     * at once), false when every job is waiting or the verb was refused (wait for an event).
     * A job already given its verb in this state is left to change (a cancel takes effect
     * asynchronously: the job may still show {@code running} for a moment).
     */
    private static boolean act(QmpClient qmp, Map<String, String> ours, Map<String, String> reported,
            Map<String, String> applied) throws QmpException {
        for (Map.Entry<String, String> job : ours.entrySet()) {
            String id = job.getKey();
            String status = job.getValue();
            String verb = verbFor(status);
            if (!Objects.equals(reported.put(id, status), status)) {
                LOG.warn("Removing job {} ({}) left by an interrupted backup{}", id, status,
                        verb == null ? ": waiting for it to conclude" : ": " + verb);
            }
            if (verb == null || status.equals(applied.get(id))) {
                continue;
            }
            try {
                qmp.execute(verb, F.objectNode().put("id", id));
                applied.put(id, status);
                return true;
            } catch (QmpErrorException e) {
                // Typically: a grouped neighbour's cancel moved it on since query-jobs.
                LOG.info("{} of {} ({}) refused: {}; looking again", verb, id, status, e.description());
                return false;
            }
        }
        return false;
    }

    private static Map<String, String> ours(QmpClient qmp, String prefix) throws QmpException {
        Map<String, String> ours = new LinkedHashMap<>();
        for (JsonNode job : qmp.execute("query-jobs")) {
            String id = job.path("id").asText();
            if (id.startsWith(prefix)) {
                ours.put(id, job.path("status").asText());
            }
        }
        return ours;
    }
}

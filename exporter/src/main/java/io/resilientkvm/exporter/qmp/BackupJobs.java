package io.resilientkvm.exporter.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpErrorException;
import io.resilientkvm.engine.qmp.QmpEvent;
import io.resilientkvm.engine.qmp.QmpEventStream;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.engine.qmp.QmpTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Waits for the jobs one {@link BackupTransaction} started: each through {@code JOB_STATUS_CHANGE
 * → concluded}, then {@code query-jobs} (its error field and figures) and {@code job-dismiss}; a
 * {@code BLOCK_JOB_COMPLETED} carrying an error is a failure too. At the job timeout every job
 * left is cancelled and awaited. Tells the progress listener the jobs' figures about every second.
 */
final class BackupJobs {
    private static final Logger LOG = LoggerFactory.getLogger(BackupJobs.class);
    /** How long cancelled jobs may take to conclude. */
    static final Duration CANCEL_WAIT = Duration.ofSeconds(60);
    private static final Duration PROGRESS_EVERY = Duration.ofSeconds(1);
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private final QmpClient qmp;
    private final QmpEventStream events;
    private final Map<String, JobSpec> pending;
    private final Instant started;
    private final BackupTransaction.ProgressListener progress;
    private final Map<String, JobOutcome> outcomes = new HashMap<>();
    private final Map<String, String> eventErrors = new HashMap<>();

    /**
     * @param events  the stream of the jobs' events, opened before the transaction
     * @param jobs    job id → spec of every job the transaction started
     * @param started when the transaction was sent
     */
    BackupJobs(QmpClient qmp, QmpEventStream events, Map<String, JobSpec> jobs, Instant started,
            BackupTransaction.ProgressListener progress) {
        this.qmp = qmp;
        this.events = events;
        this.pending = new LinkedHashMap<>(jobs);
        this.started = started;
        this.progress = progress;
    }

    /** Waits until every job concluded, cancelling those left after {@code jobTimeout}; outcomes by job id. */
    Map<String, JobOutcome> await(Duration jobTimeout) throws QmpException {
        long deadline = System.nanoTime() + jobTimeout.toNanos();
        long nextProgress = System.nanoTime() + PROGRESS_EVERY.toNanos();
        while (!pending.isEmpty()) {
            long now = System.nanoTime();
            if (now >= deadline) {
                cancelAll("timed out after " + jobTimeout);
                break;
            }
            if (now >= nextProgress) {
                reportProgress();
                nextProgress = now + PROGRESS_EVERY.toNanos();
            }
            QmpEvent event;
            try {
                event = events.next(Duration.ofNanos(Math.min(deadline, nextProgress) - now));
            } catch (QmpTimeoutException e) {
                continue;
            }
            String id = event.dataText("id").isEmpty() ? event.dataText("device") : event.dataText("id");
            if ("BLOCK_JOB_COMPLETED".equals(event.name()) && event.data().hasNonNull("error")) {
                eventErrors.put(id, event.dataText("error"));
            } else if ("BLOCK_JOB_CANCELLED".equals(event.name())) {
                eventErrors.putIfAbsent(id, "the job was cancelled");
            } else if ("JOB_STATUS_CHANGE".equals(event.name()) && "concluded".equals(event.dataText("status"))) {
                outcomes.put(id, conclude(id, pending.remove(id), eventErrors.get(id)));
            }
        }
        return outcomes;
    }

    /** Reads a concluded job's error and figures, then dismisses it. */
    private JobOutcome conclude(String id, JobSpec spec, String eventError) throws QmpException {
        String error = eventError;
        long bytes = 0;
        for (JsonNode job : qmp.execute("query-jobs")) {
            if (id.equals(job.path("id").asText())) {
                if (job.hasNonNull("error")) {
                    error = job.get("error").asText();
                }
                bytes = job.path("current-progress").asLong();
            }
        }
        qmp.execute("job-dismiss", F.objectNode().put("id", id));
        Instant finished = Instant.now();
        if (error == null) {
            LOG.info("Job {} done: {} bytes in {} ms", id, bytes, Duration.between(started, finished).toMillis());
        } else {
            LOG.warn("Job {} failed: {}", id, error);
        }
        return new JobOutcome(spec, error, started, finished, bytes);
    }

    private void cancelAll(String why) throws QmpException {
        LOG.warn("Cancelling backup jobs {}: {}", pending.keySet(), why);
        for (String id : pending.keySet()) {
            try {
                qmp.execute("job-cancel", F.objectNode().put("id", id));
            } catch (QmpErrorException e) {
                LOG.debug("job-cancel {}: {}", id, e.getMessage());
            }
        }
        List<String> ids = new ArrayList<>(pending.keySet());
        awaitConcludedAndDismiss(ids, id -> outcomes.put(id, new JobOutcome(pending.get(id), why, started, Instant.now(), 0)));
        for (String id : ids) {
            outcomes.put(id, new JobOutcome(pending.get(id), why + "; the job did not conclude after job-cancel",
                    started, Instant.now(), 0));
        }
        pending.clear();
    }

    /**
     * Dismisses the jobs of {@code ids} as they conclude, removing them from the list, for at
     * most {@link #CANCEL_WAIT}; {@code onDismiss} hears each id dismissed.
     */
    private void awaitConcludedAndDismiss(List<String> ids, Consumer<String> onDismiss) throws QmpException {
        long deadline = System.nanoTime() + CANCEL_WAIT.toNanos();
        while (!ids.isEmpty()) {
            for (JsonNode job : qmp.execute("query-jobs")) {
                String id = job.path("id").asText();
                if (ids.contains(id) && "concluded".equals(job.path("status").asText())) {
                    qmp.execute("job-dismiss", F.objectNode().put("id", id));
                    ids.remove(id);
                    onDismiss.accept(id);
                }
            }
            long left = deadline - System.nanoTime();
            if (ids.isEmpty() || left <= 0) {
                return;
            }
            try {
                events.next(Duration.ofNanos(Math.min(left, Duration.ofSeconds(1).toNanos())));
            } catch (QmpTimeoutException e) {
                // poll query-jobs again
            }
        }
    }

    private void reportProgress() {
        List<JobProgress> jobs = new ArrayList<>();
        try {
            for (JsonNode job : qmp.execute("query-jobs")) {
                String id = job.path("id").asText();
                JobSpec spec = pending.get(id);
                if (spec != null) {
                    jobs.add(new JobProgress(id, spec.device().name(), job.path("current-progress").asLong(),
                            job.path("total-progress").asLong(), job.path("status").asText()));
                }
            }
        } catch (QmpException e) {
            LOG.debug("query-jobs for progress failed: {}", e.getMessage());
            return;
        }
        try {
            progress.progress(jobs);
        } catch (RuntimeException e) {
            LOG.debug("progress listener failed: {}", e.getMessage());
        }
    }
}

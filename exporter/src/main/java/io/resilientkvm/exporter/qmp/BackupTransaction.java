package io.resilientkvm.exporter.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpErrorException;
import io.resilientkvm.engine.qmp.QmpEventStream;
import io.resilientkvm.engine.qmp.QmpException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the backup jobs of several disks at one point in time and waits for them.
 *
 * <p>Targets are attached with {@code blockdev-add} (qcow2 over a file, {@code backing: null}),
 * the jobs start in one {@code transaction} ({@code auto-dismiss: false}), and {@link BackupJobs}
 * awaits each until it concluded and was dismissed. The target nodes are always deleted afterwards. Several jobs use
 * {@code completion-mode: grouped}, so one failure cancels the others; since QEMU refuses
 * that mode for {@code block-dirty-bitmap-add}, new bitmaps are then created in a transaction
 * just before (a bitmap that starts early only marks a few clusters more: safe).
 * Bitmaps are never cleared on failure: {@code sync=incremental} keeps them until success.
 */
public final class BackupTransaction {
    private static final Logger LOG = LoggerFactory.getLogger(BackupTransaction.class);
    /** Prefix of the target nodes this class attaches. */
    public static final String TARGET_PREFIX = "rkvm-target-";
    /** Prefix of the job ids this class starts. */
    public static final String JOB_PREFIX = "rkvm-backup-";
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    /**
     * @param speedBytesPerSec job speed limit, 0 for none
     * @param compress         write compressed clusters
     * @param jobTimeout       how long the jobs may run before they are cancelled
     */
    public record Options(long speedBytesPerSec, boolean compress, Duration jobTimeout) {}

    /** Called around the {@code transaction} command (quiesce, pause). */
    public interface Hooks {
        /** No hooks. */
        Hooks NONE = new Hooks() { };

        /** Just before the transaction; an exception stops the run before any job starts. */
        default void beforeTransaction() throws QmpException {
        }

        /** Right after the transaction returned, failed or not; the jobs hold their point in time. */
        default void afterTransaction() {
        }
    }

    /** Told the jobs' figures about every second while they run. */
    @FunctionalInterface
    public interface ProgressListener {
        void progress(List<JobProgress> jobs);
    }

    private final QmpClient qmp;
    private final Options options;
    private Hooks hooks = Hooks.NONE;
    private ProgressListener progress;
    private boolean afterDone;

    public BackupTransaction(QmpClient qmp, Options options) {
        this.qmp = qmp;
        this.options = options;
    }

    /** A node name of at most 31 characters, as QEMU requires. */
    static String targetNode(String device) {
        String safe = device.replaceAll("[^A-Za-z0-9_.-]", "_");
        return TARGET_PREFIX + (safe.length() <= 31 - TARGET_PREFIX.length() ? safe
                : Integer.toHexString(device.hashCode()));
    }

    static String jobId(String device) {
        return JOB_PREFIX + device.replaceAll("[^A-Za-z0-9_.-]", "_");
    }

    /**
     * Removes what a crashed exporter left in QEMU: its jobs, in whatever state each is
     * ({@link StaleJobs}), then its target nodes. Call it while holding the exporter lock.
     */
    public static void cleanStale(QmpClient qmp) throws QmpException {
        StaleJobs.remove(qmp, JOB_PREFIX, BackupJobs.CANCEL_WAIT);
        for (JsonNode node : qmp.execute("query-named-block-nodes", F.objectNode().put("flat", true))) {
            String name = node.path("node-name").asText();
            if (name.startsWith(TARGET_PREFIX)) {
                LOG.warn("Detaching target node {} left by an interrupted backup", name);
                qmp.execute("blockdev-del", F.objectNode().put("node-name", name));
            }
        }
    }

    /**
     * Runs the jobs and returns one outcome per spec, in order; never leaves a target attached.
     * A target QEMU could not detach is an error: only {@code blockdev-del} closes the qcow2
     * node and so writes its last metadata, and a file QEMU may still change is never published.
     */
    public List<JobOutcome> run(List<JobSpec> specs) throws QmpException {
        return run(specs, Hooks.NONE, null);
    }

    /**
     * Runs the jobs with hooks around the transaction ({@link Hooks#afterTransaction()} runs
     * whenever {@link Hooks#beforeTransaction()} was called) and a progress listener (null:
     * a log line every 5 s).
     */
    public List<JobOutcome> run(List<JobSpec> specs, Hooks hooks, ProgressListener progress) throws QmpException {
        this.hooks = hooks;
        this.progress = progress != null ? progress : new io.resilientkvm.exporter.progress.ProgressLog();
        List<String> attached = new ArrayList<>();
        List<String> notDetached = new ArrayList<>();
        List<JobOutcome> outcomes;
        try {
            for (JobSpec s : specs) {
                String node = targetNode(s.device().name());
                ObjectNode add = F.objectNode().put("driver", "qcow2").put("node-name", node);
                add.putObject("file").put("driver", "file").put("filename", s.target().toString());
                add.putNull("backing");
                qmp.execute("blockdev-add", add);
                attached.add(node);
            }
            outcomes = runJobs(specs);
        } finally {
            for (String node : attached) {
                try {
                    qmp.execute("blockdev-del", F.objectNode().put("node-name", node));
                } catch (QmpException e) {
                    LOG.warn("Could not detach backup target node {}: {}", node, e.getMessage());
                    notDetached.add(node + " (" + e.getMessage() + ")");
                }
            }
        }
        if (!notDetached.isEmpty()) {
            throw new QmpException("QEMU did not detach the backup target nodes " + notDetached
                    + " after the jobs, so their files may lack their last qcow2 metadata and are not published");
        }
        return outcomes;
    }

    private List<JobOutcome> runJobs(List<JobSpec> specs) throws QmpException {
        boolean grouped = specs.size() > 1;
        ArrayNode bitmapAdds = F.arrayNode();
        ArrayNode backups = F.arrayNode();
        for (JobSpec s : specs) {
            if (s.addBitmap()) {
                ObjectNode data = F.objectNode().put("node", s.device().nodeName()).put("name", s.bitmap())
                        .put("persistent", "qcow2".equals(s.device().format()));
                bitmapAdds.add(F.objectNode().put("type", "block-dirty-bitmap-add").set("data", data));
            }
            ObjectNode data = F.objectNode().put("job-id", jobId(s.device().name()))
                    .put("device", s.device().nodeName()).put("target", targetNode(s.device().name()))
                    .put("sync", s.incremental() ? "incremental" : "full").put("auto-dismiss", false);
            if (s.incremental()) {
                data.put("bitmap", s.bitmap());
            }
            if (options.speedBytesPerSec() > 0) {
                data.put("speed", options.speedBytesPerSec());
            }
            if (options.compress()) {
                data.put("compress", true);
            }
            backups.add(F.objectNode().put("type", "blockdev-backup").set("data", data));
        }
        afterDone = false;
        hooks.beforeTransaction();
        try {
            return runTransaction(specs, grouped, bitmapAdds, backups);
        } finally {
            afterTransaction();
        }
    }

    /** Runs the transaction; calls {@link Hooks#afterTransaction()} as soon as it returned, then awaits the jobs. */
    private List<JobOutcome> runTransaction(List<JobSpec> specs, boolean grouped, ArrayNode bitmapAdds,
            ArrayNode backups) throws QmpException {
        ObjectNode txn = F.objectNode();
        ArrayNode actions = txn.putArray("actions");
        if (grouped) {
            if (!bitmapAdds.isEmpty()) {
                ObjectNode first = F.objectNode();
                first.set("actions", bitmapAdds);
                qmp.execute("transaction", first);
            }
            txn.putObject("properties").put("completion-mode", "grouped");
        } else {
            actions.addAll(bitmapAdds);
        }
        actions.addAll(backups);

        Map<String, JobSpec> pending = new LinkedHashMap<>();
        specs.forEach(s -> pending.put(jobId(s.device().name()), s));
        Map<String, JobOutcome> outcomes;
        Instant started;
        Set<String> ids = Set.copyOf(pending.keySet()); // read by the QMP reader thread: immutable
        try (QmpEventStream events = qmp.openEventStream(e -> ids.contains(e.dataText("id"))
                || ids.contains(e.dataText("device")))) {
            started = Instant.now();
            try {
                qmp.execute("transaction", txn);
            } catch (QmpErrorException e) {
                List<JobOutcome> failed = new ArrayList<>();
                for (JobSpec s : specs) {
                    failed.add(new JobOutcome(s, e.description(), started, Instant.now(), 0));
                }
                return failed;
            } finally {
                afterTransaction();
            }
            LOG.info("Backup jobs started: {}", pending.keySet());
            outcomes = new BackupJobs(qmp, events, pending, started, progress).await(options.jobTimeout());
        }
        List<JobOutcome> result = new ArrayList<>();
        for (JobSpec s : specs) {
            result.add(outcomes.get(jobId(s.device().name())));
        }
        return result;
    }

    /** Calls the hook once per run: as soon as the transaction returned, or on the way out. */
    private void afterTransaction() {
        if (!afterDone) {
            afterDone = true;
            hooks.afterTransaction();
        }
    }
}

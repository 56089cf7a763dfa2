package io.resilientkvm.node;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.resilientkvm.engine.qemu.DiskAttachment;
import io.resilientkvm.engine.qemu.DiskPlan;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.importer.restore.Hold;
import io.resilientkvm.importer.restore.Holds;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * After a promotion the VM's disk is an overlay on the kept chain, which is held from pruning.
 * Once the new main's own full backup exists, QEMU's {@code block-stream} copies the chain's
 * data into the overlay while the VM runs; when the overlay has no backing file any more, the
 * hold is released and the old chain may age out like any other. The chain's files were given to
 * QEMU as their own read-only nodes ({@link DiskAttachment#backingNodeName}); QEMU keeps such nodes
 * open after the stream, so they are deleted ({@code blockdev-del}) before the hold goes, and
 * retention's deletions free the space. Runs between two backups (on
 * the backup thread), since a backup job and a stream cannot share the disk's node.
 */
final class Flattening {
    private static final Logger LOG = LoggerFactory.getLogger(Flattening.class);
    private static final Duration TIMEOUT = Duration.ofHours(6);
    private static final String JOB = "rkvm-flatten";

    private final Path socket;
    private final Holds holds;
    private final List<Hold> pending;
    private final AtomicBoolean done = new AtomicBoolean();

    Flattening(Path socket, Path repository, List<Hold> pending) {
        this.socket = socket;
        this.holds = new Holds(repository);
        this.pending = List.copyOf(pending);
        if (pending.isEmpty()) {
            done.set(true);
        }
    }

    /** Streams the main disk's backing chain into it, once; failures are logged and retried after the next backup. */
    void runOnce() {
        if (done.get()) {
            return;
        }
        long t0 = System.nanoTime();
        try (QmpClient qmp = QmpClient.connect(socket, Duration.ofSeconds(30))) {
            if (hasBacking(qmp)) {
                qmp.execute("block-stream", JsonNodeFactory.instance.objectNode().put("job-id", JOB)
                        .put("device", DiskPlan.MAIN_NODE), Duration.ofSeconds(30));
                long deadline = System.nanoTime() + TIMEOUT.toNanos();
                while (jobRunning(qmp)) {
                    if (System.nanoTime() > deadline) {
                        qmp.execute("block-job-cancel", JsonNodeFactory.instance.objectNode().put("device", JOB));
                        throw new QmpException("block-stream did not end within " + TIMEOUT.toHours() + " h; cancelled");
                    }
                    Thread.sleep(200); // polling query-block-jobs; the deadline bounds it
                }
                if (hasBacking(qmp)) {
                    throw new QmpException("block-stream ended but the disk still has a backing file (see the QEMU log)");
                }
            }
            flush(qmp);
            dropBackingNodes(qmp);
            for (Hold h : pending) {
                holds.remove(h);
            }
            done.set(true);
            LOG.info("The VM's disk no longer reads from the restored chain (streamed in {} ms); released holds {}",
                    (System.nanoTime() - t0) / 1_000_000, pending.stream().map(Hold::id).toList());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) { // QMP, ZooKeeper-free: any failure leaves the hold, which is safe
            LOG.warn("Flattening the restored disk failed, the chain stays held; retried after the next backup: {}",
                    e.getMessage());
        }
    }

    /**
     * Makes the streamed data durable before the chain may go: QEMU rewrites the header without
     * the backing file when the stream ends, but keeps the new clusters' tables in its cache
     * until a flush (measured on 7.2: SIGKILL after the stream left an image with no backing file
     * and none of the chain's data). QMP has no flush command; {@code stop} flushes every disk,
     * so a running guest is paused for the flush and resumed.
     */
    private static void flush(QmpClient qmp) throws QmpException {
        boolean running = qmp.execute("query-status").path("running").asBoolean();
        qmp.execute("stop");
        if (running) {
            qmp.execute("cont");
        }
    }

    /** Deletes the chain's nodes, which nothing reads any more, the nearest first (it holds the next one). */
    private static void dropBackingNodes(QmpClient qmp) throws QmpException {
        Set<String> names = new HashSet<>();
        for (JsonNode node : qmp.execute("query-named-block-nodes", JsonNodeFactory.instance.objectNode().put("flat", true))) {
            names.add(node.path("node-name").asText());
        }
        for (int n = 1; names.contains(DiskAttachment.backingNodeName(DiskPlan.MAIN_NODE, n)); n++) {
            String name = DiskAttachment.backingNodeName(DiskPlan.MAIN_NODE, n);
            qmp.execute("blockdev-del", JsonNodeFactory.instance.objectNode().put("node-name", name));
            qmp.execute("blockdev-del", JsonNodeFactory.instance.objectNode().put("node-name", name + "-file"));
        }
    }

    private static boolean jobRunning(QmpClient qmp) throws QmpException {
        for (JsonNode job : qmp.execute("query-block-jobs")) {
            if (JOB.equals(job.path("device").asText())) {
                return true;
            }
        }
        return false;
    }

    private static boolean hasBacking(QmpClient qmp) throws QmpException {
        for (JsonNode node : qmp.execute("query-named-block-nodes", JsonNodeFactory.instance.objectNode().put("flat", true))) {
            if (DiskPlan.MAIN_NODE.equals(node.path("node-name").asText())) {
                // flat=true leaves out "backing-image" and reports depth 0; backing_file is there (QEMU 7.2).
                return node.hasNonNull("backing_file");
            }
        }
        return false;
    }
}

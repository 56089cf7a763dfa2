package io.resilientkvm.exporter.quiesce;

import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds the guest still around the backup transaction: {@code guest-fsfreeze-freeze} through the
 * guest agent (file systems consistent) and/or QMP {@code stop} (for guests without an agent),
 * then {@code cont} and {@code guest-fsfreeze-thaw} as soon as the transaction has returned: the
 * jobs have captured the point in time by then, and the guest must not stay frozen while they
 * copy. {@link #release()} always runs (also from {@link #close()}), even when the transaction
 * failed; it never throws, a guest left frozen would be worse than a logged error.
 */
public final class PointInTime implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PointInTime.class);
    /** How long the agent may take to freeze (it flushes the guest's dirty pages first). */
    public static final Duration DEFAULT_FREEZE_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration THAW_TIMEOUT = Duration.ofSeconds(10);

    /**
     * What to do around the transaction.
     *
     * @param guestAgent     the guest agent's socket; null for no quiesce
     * @param requireQuiesce fail the backup when the freeze fails, instead of going on un-quiesced
     * @param pause          {@code stop} the VM around the transaction (only if it runs)
     * @param freezeTimeout  how long the freeze may take
     */
    public record Options(Path guestAgent, boolean requireQuiesce, boolean pause, Duration freezeTimeout) {
        public static final Options NONE = new Options(null, false, false, DEFAULT_FREEZE_TIMEOUT);

        public boolean any() {
            return guestAgent != null || pause;
        }
    }

    private final QmpClient qmp;
    private final Options options;
    private QgaClient agent;
    private boolean freezeAttempted;
    private boolean frozen;
    private boolean stopped;

    public PointInTime(QmpClient qmp, Options options) {
        this.qmp = qmp;
        this.options = options;
    }

    /**
     * Freezes and/or pauses. A failed freeze is a warning (the backup is then crash-consistent)
     * unless quiesce is required.
     *
     * @throws QmpException the freeze failed and quiesce is required, or {@code stop} failed
     */
    public void hold() throws QmpException {
        if (options.guestAgent() != null) {
            freeze();
        }
        if (options.pause()) {
            String status = qmp.execute("query-status").path("status").asText();
            if ("running".equals(status)) {
                qmp.execute("stop");
                stopped = true;
                LOG.info("VM paused for the backup transaction");
            } else {
                LOG.info("VM is {}, not running: no pause needed", status);
            }
        }
    }

    private void freeze() throws QmpException {
        freezeAttempted = true;
        try {
            agent = QgaClient.connect(options.guestAgent(), options.freezeTimeout());
            long count = agent.execute("guest-fsfreeze-freeze", options.freezeTimeout()).asLong();
            frozen = true;
            LOG.info("guest file systems frozen through the agent on {} ({} file systems)", options.guestAgent(), count);
        } catch (IOException e) {
            String what = "cannot quiesce the guest through the agent on " + options.guestAgent() + ": " + e.getMessage();
            if (options.requireQuiesce()) {
                release();
                throw new QmpException(what + "; the backup was not started (quiesce is required: start "
                        + "qemu-guest-agent in the guest, or drop --require-quiesce)", e);
            }
            LOG.warn("{}; backing up without quiesce (crash-consistent)", what);
        }
    }

    /** True when the guest file systems were frozen for the transaction. */
    public boolean quiesced() {
        return frozen;
    }

    /** Resumes and thaws; idempotent, never throws. */
    public void release() {
        if (stopped) {
            stopped = false;
            try {
                qmp.execute("cont");
                LOG.info("VM resumed after the backup transaction");
            } catch (QmpException e) {
                LOG.error("could not resume the VM after the backup transaction: {}; resume it with QMP 'cont'",
                        e.getMessage());
            }
        }
        if (freezeAttempted) {
            freezeAttempted = false;
            thaw();
        }
    }

    /**
     * Thaws even after a failed or timed-out freeze: the agent may have frozen late. A client
     * broken by a timeout is replaced by a fresh one.
     */
    private void thaw() {
        for (int attempt = 0; attempt < 2; attempt++) {
            try {
                if (agent == null) {
                    agent = QgaClient.connect(options.guestAgent(), THAW_TIMEOUT);
                }
                agent.execute("guest-fsfreeze-thaw", THAW_TIMEOUT);
                if (frozen) {
                    LOG.info("guest file systems thawed");
                }
                frozen = false;
                closeAgent();
                return;
            } catch (IOException e) {
                closeAgent();
                if (attempt == 1 || !frozen && e instanceof QgaClient.QgaException) {
                    // Nothing frozen and the agent answered: nothing to undo.
                    if (frozen) {
                        LOG.error("could not thaw the guest through {}: {}; the guest's file systems may stay "
                                + "frozen: run guest-fsfreeze-thaw by hand", options.guestAgent(), e.getMessage());
                    } else {
                        LOG.debug("thaw after a failed freeze: {}", e.getMessage());
                    }
                    return;
                }
            }
        }
    }

    private void closeAgent() {
        if (agent != null) {
            try {
                agent.close();
            } catch (IOException e) {
                LOG.debug("closing the guest agent client: {}", e.getMessage());
            }
            agent = null;
        }
    }

    @Override
    public void close() {
        release();
    }
}

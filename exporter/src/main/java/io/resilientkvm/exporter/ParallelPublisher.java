package io.resilientkvm.exporter;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.exporter.qmp.JobOutcome;
import io.resilientkvm.exporter.repository.JobFigures;
import io.resilientkvm.exporter.repository.Repository;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Syncs, hashes and describes each finished file, the disks in parallel (SHA-256 is CPU-bound
 * and sequential within a file, so one thread per file, at most one per core).
 */
final class ParallelPublisher {
    private ParallelPublisher() {
    }

    /** One future per plan, null where the job failed (nothing to publish). */
    static List<Future<BackupManifest>> start(Repository repo, List<DevicePlan> plans, List<JobOutcome> outcomes,
            String instance, long epoch) {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(plans.size(),
                Runtime.getRuntime().availableProcessors())), r -> {
                    Thread t = new Thread(r, "publish");
                    t.setDaemon(true);
                    return t;
                });
        try {
            List<Future<BackupManifest>> out = new ArrayList<>();
            for (int i = 0; i < plans.size(); i++) {
                DevicePlan p = plans.get(i);
                JobOutcome o = outcomes.get(i);
                out.add(!o.ok() ? null : pool.submit(() -> repo.complete(p.pending(), instance,
                        p.device().virtualSize(), epoch,
                        new JobFigures(o.startedAt(), o.finishedAt(), o.bytesTransferred()))));
            }
            return out;
        } finally {
            pool.shutdown(); // the submitted work still runs
        }
    }

    /** The published manifest, or why publishing failed. */
    static BackupManifest await(Future<BackupManifest> f, DevicePlan p) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while publishing " + p.pending().file());
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(e.getCause());
        }
    }
}

package io.resilientkvm.drill;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperatorException;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;

/**
 * The disaster-recovery drill: on one machine, a ZooKeeper, a main and two clones as separate
 * processes with a real VM; a workload whose every write is logged; backups; the main killed
 * with SIGKILL; a takeover; then byte-for-byte proof that the new main runs on exactly the
 * data of the last verified backup, that the old main is fenced and that the other clone
 * follows the new main. Each round repeats it with the next node. The nodes are
 * {@link DrillCluster}'s; each round's steps and checks are the workload's {@link DrillRound}.
 */
final class Drill implements AutoCloseable {
    private static final List<String> NODES = DrillCluster.NODES;

    private final DrillOptions options;
    private final PrintWriter out;
    private final DrillReport report = new DrillReport();
    private final long t0 = System.nanoTime();
    private final DrillCluster cluster;
    private boolean failed;
    private boolean closed;

    Drill(DrillOptions options, PrintWriter out) {
        this.options = options;
        this.out = out;
        this.cluster = new DrillCluster(options, out, this::step);
    }

    DrillReport run() throws BadInputException {
        try {
            cluster.setUp();
            DrillRound rounds = options.guest() ? new GuestRound(options, report, cluster, out, this::step)
                    : new QemuIoRound(options, report, cluster, out, this::step);
            String main = NODES.get(0);
            for (int round = 1; round <= options.rounds(); round++) {
                int i = NODES.indexOf(main);
                String candidate = NODES.get((i + 1) % NODES.size());
                String other = NODES.get((i + 2) % NODES.size());
                rounds.run(round, main, candidate, other);
                // After a cut the link comes back and the old main rejoins in every round: it is part of the disaster.
                if (round < options.rounds() || options.cut()) {
                    rounds.rejoin(main);
                }
                main = candidate;
            }
        } catch (BadInputException e) {
            failed = true;
            throw e;
        } catch (OperatorException | IOException | RuntimeException e) {
            failed = true;
            report.failed(e.getMessage());
            step("FAILED: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failed = true;
            report.failed("interrupted");
        }
        if (!report.passed()) {
            failed = true;
        }
        if (failed || options.keep()) {
            report.scratch(String.valueOf(cluster.scratch()));
        }
        return report;
    }

    private void step(String what) {
        out.printf(Locale.ROOT, "[%7.1fs] %s%n", (System.nanoTime() - t0) / 1e9, what);
        out.flush();
    }

    /** Stops every process it started; removes the scratch folder unless kept or failed. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        cluster.close(!failed && !options.keep());
    }
}

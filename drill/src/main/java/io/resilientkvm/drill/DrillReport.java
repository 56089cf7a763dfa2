package io.resilientkvm.drill;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The drill's findings: one line per round, and every check with its verdict. */
final class DrillReport {
    /**
     * One takeover round. With the guest workload, RPO counts the journal records (and their
     * seconds) the old main wrote after the restored point, RTO runs to the guest's HTTP answering
     * and {@code rtoVmSeconds} to its VM answering QMP; {@code rpoRecords} is -1 and RTO is to QMP
     * with qemu-io. {@code guestMiBps} is the guest's bulk write rate while backups ran (-1: none).
     */
    record Round(int number, String oldMain, String newMain, long epoch, int backups, long backupBytes, long replicatedBytes,
            String restoredPoint, double rpoSeconds, long rpoBytes, double rtoSeconds, long rpoRecords, double rtoVmSeconds,
            double guestMiBps) {
        Round(int number, String oldMain, String newMain, long epoch, int backups, long backupBytes, long replicatedBytes,
                String restoredPoint, double rpoSeconds, long rpoBytes, double rtoSeconds) {
            this(number, oldMain, newMain, epoch, backups, backupBytes, replicatedBytes, restoredPoint, rpoSeconds, rpoBytes,
                    rtoSeconds, -1, rtoSeconds, -1);
        }
    }

    /** A measured duration of a round (the cut disaster's). */
    record Timing(int round, String name, double seconds) {
    }

    /** One verification. */
    record Check(String name, boolean passed, String detail) {
    }

    private final List<Round> rounds = new ArrayList<>();
    private final List<Check> checks = new ArrayList<>();
    private final List<Timing> timings = new ArrayList<>();
    private String failure;
    private String scratch = "";

    void add(Round r) {
        rounds.add(r);
    }

    void check(String name, boolean passed, String detail) {
        checks.add(new Check(name, passed, detail));
    }

    void timing(int round, String name, double seconds) {
        timings.add(new Timing(round, name, seconds));
    }

    void failed(String why) {
        failure = why;
    }

    void scratch(String dir) {
        scratch = dir;
    }

    boolean passed() {
        return failure == null && !checks.isEmpty() && checks.stream().allMatch(Check::passed);
    }

    List<Round> rounds() {
        return List.copyOf(rounds);
    }

    String table() {
        StringBuilder b = new StringBuilder();
        boolean guest = rounds.stream().anyMatch(r -> r.rpoRecords() >= 0);
        if (guest) {
            b.append(String.format(Locale.ROOT, "%-5s %-8s %-8s %-5s %-7s %-11s %-11s %-9s %-11s %-10s %-10s %-12s %s%n", "round",
                    "old main", "new main", "epoch", "backups", "backup MiB", "copied MiB", "RPO s", "RPO records", "RTO s",
                    "RTO QMP s", "guest MiB/s", "restored point"));
            for (Round r : rounds) {
                b.append(String.format(Locale.ROOT, "%-5d %-8s %-8s %-5d %-7d %-11.1f %-11.1f %-9.2f %-11d %-10.2f %-10.2f %-12s %s%n",
                        r.number(), r.oldMain(), r.newMain(), r.epoch(), r.backups(), r.backupBytes() / 1048576.0,
                        r.replicatedBytes() / 1048576.0, r.rpoSeconds(), r.rpoRecords(), r.rtoSeconds(), r.rtoVmSeconds(),
                        r.guestMiBps() < 0 ? "-" : String.format(Locale.ROOT, "%.1f", r.guestMiBps()), r.restoredPoint()));
            }
        } else {
            b.append(String.format(Locale.ROOT, "%-5s %-8s %-8s %-5s %-7s %-11s %-11s %-9s %-10s %-8s %s%n", "round", "old main",
                    "new main", "epoch", "backups", "backup MiB", "copied MiB", "RPO s", "RPO bytes", "RTO s", "restored point"));
            for (Round r : rounds) {
                b.append(String.format(Locale.ROOT, "%-5d %-8s %-8s %-5d %-7d %-11.1f %-11.1f %-9.1f %-10d %-8.2f %s%n", r.number(),
                        r.oldMain(), r.newMain(), r.epoch(), r.backups(), r.backupBytes() / 1048576.0,
                        r.replicatedBytes() / 1048576.0, r.rpoSeconds(), r.rpoBytes(), r.rtoSeconds(), r.restoredPoint()));
            }
        }
        if (!timings.isEmpty()) {
            b.append(System.lineSeparator()).append("timings:").append(System.lineSeparator());
            for (Timing t : timings) {
                b.append(String.format(Locale.ROOT, "  round %d: %-70s %8.2f s%n", t.round(), t.name(), t.seconds()));
            }
        }
        b.append(System.lineSeparator()).append("checks:").append(System.lineSeparator());
        for (Check c : checks) {
            b.append(String.format(Locale.ROOT, "  %-4s %s%s%n", c.passed() ? "ok" : "FAIL", c.name(),
                    c.detail().isEmpty() ? "" : " (" + c.detail() + ")"));
        }
        b.append(passed() ? "DRILL PASSED" : "DRILL FAILED" + (failure == null ? "" : ": " + failure));
        if (!scratch.isEmpty()) {
            b.append(System.lineSeparator()).append("scratch folder: ").append(scratch);
        }
        return b.toString();
    }

    /** The report as a Jackson tree (the drill's {@code --json}; docs/drill.md lists its fields). */
    ObjectNode json() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("passed", passed());
        if (failure != null) {
            o.put("failure", failure);
        }
        if (!scratch.isEmpty()) {
            o.put("scratch", scratch);
        }
        ArrayNode rs = o.putArray("rounds");
        for (Round r : rounds) {
            rs.addObject().put("round", r.number()).put("oldMain", r.oldMain()).put("newMain", r.newMain())
                    .put("epoch", r.epoch()).put("backups", r.backups()).put("backupBytes", r.backupBytes())
                    .put("replicatedBytes", r.replicatedBytes()).put("restoredPoint", r.restoredPoint())
                    .put("rpoSeconds", r.rpoSeconds()).put("rpoBytes", r.rpoBytes()).put("rtoSeconds", r.rtoSeconds())
                    .put("rpoRecords", r.rpoRecords()).put("rtoVmSeconds", r.rtoVmSeconds()).put("guestMiBps", r.guestMiBps());
        }
        ArrayNode ts = o.putArray("timings");
        for (Timing t : timings) {
            ts.addObject().put("round", t.round()).put("name", t.name()).put("seconds", t.seconds());
        }
        ArrayNode cs = o.putArray("checks");
        for (Check c : checks) {
            cs.addObject().put("name", c.name()).put("passed", c.passed()).put("detail", c.detail());
        }
        return o;
    }
}

package io.resilientkvm.engine.watchdog;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.time.Instant;
import java.util.concurrent.locks.LockSupport;

/**
 * The VM keeper: a tiny JVM of its own, one per running QEMU, that pauses QEMU (SIGSTOP) as soon
 * as the agent stops proving it owns the epoch, whatever happens to the agent's JVM (frozen,
 * hung in a GC pause, killed). Started by {@link VmWatchdog}; see docs/takeover.md, "The VM
 * watchdog".
 *
 * <p>Its deadline is the newest proof time ({@link LeaseClock}: CLOCK_BOOTTIME, one clock for every
 * process of a host) plus the lease. It reads from stdin, one ASCII line each:
 * <ul>
 *   <li>{@code R NANOS}: a renewal, with the time at which the agent's proof of ownership was
 *       taken; the deadline becomes {@code NANOS + lease} if that is later. A paused QEMU is
 *       resumed (SIGCONT) only by a renewal whose deadline has not passed yet.</li>
 *   <li>{@code K}: kill QEMU (SIGKILL) and exit.</li>
 *   <li>{@code X}: exit and leave QEMU as it is (the agent stops it itself).</li>
 *   <li>end of input (the agent is gone): kill QEMU and exit.</li>
 * </ul>
 * Its loop allocates nothing, so its 16 MB heap never collects while it watches; it logs to its
 * stderr (a file), without a logging framework, for the same reason.
 *
 * <p>Arguments: {@code PID START_TIME LEASE_MS FIRST_PROOF_NANOS}.
 */
public final class VmKeeper {
    /** How often the deadline is checked: the keeper's reaction time, part of the promotion's slack. */
    static final long CHECK_NANOS = 10_000_000L;
    static final int EXIT_BAD_USAGE = 2;
    static final int EXIT_NO_PROCESS = 1;

    private final Signals qemu;
    private final long leaseNanos;
    private final PrintStream log;
    private volatile long deadline;
    /** Set by the reader thread on K, X or end of input; read by the watch loop. */
    private volatile int ending;
    private static final int GO_ON = 0;
    private static final int KILL = 1;
    private static final int LEAVE = 2;

    private VmKeeper(Signals qemu, long leaseNanos, long firstProof, PrintStream log) {
        this.qemu = qemu;
        this.leaseNanos = leaseNanos;
        this.deadline = firstProof + leaseNanos;
        this.log = log;
    }

    public static void main(String[] args) {
        PrintStream log = System.err;
        if (args.length != 4) {
            log.println("usage: VmKeeper PID START_TIME LEASE_MS FIRST_PROOF_NANOS");
            System.exit(EXIT_BAD_USAGE);
        }
        long pid;
        long startTime;
        long leaseMs;
        long firstProof;
        try {
            pid = Long.parseLong(args[0]);
            startTime = Long.parseLong(args[1]);
            leaseMs = Long.parseLong(args[2]);
            firstProof = Long.parseLong(args[3]);
        } catch (NumberFormatException e) {
            log.println("VmKeeper: bad argument: " + e.getMessage());
            System.exit(EXIT_BAD_USAGE);
            return;
        }
        Signals qemu;
        try {
            qemu = Signals.open(pid, startTime);
        } catch (IOException | RuntimeException | LinkageError e) {
            log.println(Instant.now() + " VmKeeper: cannot watch QEMU pid " + pid + ": " + e.getMessage());
            System.exit(EXIT_NO_PROCESS);
            return;
        }
        VmKeeper keeper = new VmKeeper(qemu, leaseMs * 1_000_000L, firstProof, log);
        Thread reader = new Thread(keeper::readCommands, "vm-keeper-stdin");
        reader.setDaemon(true);
        log.println(Instant.now() + " VmKeeper: watching QEMU pid " + pid + ", lease " + leaseMs + " ms");
        System.out.println("READY"); // the agent waits for this line before it counts the VM as guarded
        System.out.flush();
        reader.start();
        System.exit(keeper.watch());
    }

    /** Until told to end: pauses QEMU when the deadline passes, resumes it on a fresh renewal. */
    private int watch() {
        boolean paused = false;
        long[] timespec = new long[2];
        while (true) {
            int end = ending;
            if (end == KILL) {
                int errno = qemu.send(Signals.SIGKILL);
                log.println(Instant.now() + " VmKeeper: QEMU pid " + qemu.pid() + (errno == 0 ? " killed" : " already gone")
                        + (paused ? " (it was paused)" : ""));
                return 0;
            }
            if (end == LEAVE) {
                log.println(Instant.now() + " VmKeeper: released; QEMU pid " + qemu.pid() + " left to the agent"
                        + (paused ? " (paused)" : ""));
                return 0;
            }
            long now = LeaseClock.nanos(timespec);
            long d = deadline;
            if (!paused && now - d >= 0) {
                int errno = qemu.send(Signals.SIGSTOP);
                if (errno != 0) {
                    log.println(Instant.now() + " VmKeeper: QEMU pid " + qemu.pid() + " is gone (errno " + errno + "); exiting");
                    return 0;
                }
                paused = true;
                log.println(Instant.now() + " VmKeeper: PAUSED QEMU pid " + qemu.pid() + " (SIGSTOP): no proof of ownership for "
                        + (now - d + leaseNanos) / 1_000_000 + " ms, lease " + leaseNanos / 1_000_000 + " ms");
            } else if (paused && d - now > 0) {
                qemu.send(Signals.SIGCONT);
                paused = false;
                log.println(Instant.now() + " VmKeeper: RESUMED QEMU pid " + qemu.pid() + " (SIGCONT): a fresh proof of ownership");
            }
            LockSupport.parkNanos(CHECK_NANOS);
        }
    }

    /** Reads the agent's commands into a fixed buffer; never allocates per line. */
    private void readCommands() {
        InputStream in = System.in;
        byte[] line = new byte[64];
        int length = 0;
        try {
            while (true) {
                int b = in.read();
                if (b < 0) {
                    log.println(Instant.now() + " VmKeeper: the agent's pipe closed (agent gone)");
                    ending = KILL;
                    return;
                }
                if (b != '\n') {
                    if (length < line.length) {
                        line[length++] = (byte) b;
                    }
                    continue;
                }
                if (length > 0 && !command(line, length)) {
                    return;
                }
                length = 0;
            }
        } catch (IOException e) {
            log.println(Instant.now() + " VmKeeper: cannot read the agent's pipe (" + e.getMessage() + "): killing QEMU");
            ending = KILL;
        }
    }

    /** Applies one command; false when the keeper ends. */
    private boolean command(byte[] line, int length) {
        switch (line[0]) {
            case 'R' -> {
                long proof = parseLong(line, 2, length);
                if (proof != Long.MIN_VALUE && proof + leaseNanos - deadline > 0) {
                    deadline = proof + leaseNanos;
                }
                return true;
            }
            case 'K' -> {
                ending = KILL;
                return false;
            }
            case 'X' -> {
                ending = LEAVE;
                return false;
            }
            default -> {
                log.println(Instant.now() + " VmKeeper: unknown command ignored: " + (char) line[0]);
                return true;
            }
        }
    }

    /** A signed decimal in {@code line[from, to)}, or Long.MIN_VALUE when it is not one. */
    static long parseLong(byte[] line, int from, int to) {
        if (from >= to) {
            return Long.MIN_VALUE;
        }
        boolean negative = line[from] == '-';
        int i = negative ? from + 1 : from;
        if (i >= to) {
            return Long.MIN_VALUE;
        }
        long v = 0;
        for (; i < to; i++) {
            int digit = line[i] - '0';
            if (digit < 0 || digit > 9) {
                return Long.MIN_VALUE;
            }
            v = v * 10 + digit;
        }
        return negative ? -v : v;
    }
}

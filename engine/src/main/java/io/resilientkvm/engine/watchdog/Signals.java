package io.resilientkvm.engine.watchdog;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import io.resilientkvm.engine.process.ProcStat;

/**
 * Signals to one process through a pidfd ({@code pidfd_open}, {@code pidfd_send_signal}, Linux 5.3):
 * once the pidfd is open on the right process, no signal can reach a process that later got the
 * same pid. Java has no API for SIGSTOP or SIGCONT; the calls go to libc through JNA (direct
 * mapping: no allocation per call).
 */
final class Signals implements AutoCloseable {
    static final int SIGKILL = 9;
    static final int SIGCONT = 18;
    static final int SIGSTOP = 19;
    // The same numbers on x86_64 and aarch64 (the generic syscall table since Linux 5.1).
    private static final long SYS_PIDFD_SEND_SIGNAL = 424;
    private static final long SYS_PIDFD_OPEN = 434;

    static {
        Native.register(Signals.class, "c");
    }

    private static native long syscall(long number, long a, long b, long c, long d) throws LastErrorException;

    private static native int close(int fd) throws LastErrorException;

    private final int pidfd;
    private final long pid;

    private Signals(int pidfd, long pid) {
        this.pidfd = pidfd;
        this.pid = pid;
    }

    /**
     * Opens a pidfd on {@code pid} and checks it is the process that started at {@code startTime}
     * (clock ticks since boot, as in {@code /proc/PID/stat}): checked after the open, so that the
     * pidfd cannot hold a process that took a recycled pid.
     */
    static Signals open(long pid, long startTime) throws java.io.IOException {
        int fd;
        try {
            fd = (int) syscall(SYS_PIDFD_OPEN, pid, 0, 0, 0);
        } catch (LastErrorException e) {
            throw new java.io.IOException("pidfd_open(" + pid + ") failed with errno " + e.getErrorCode()
                    + (e.getErrorCode() == 3 ? " (no such process)" : e.getErrorCode() == 38 ? " (kernel older than 5.3)" : ""), e);
        }
        ProcStat now = ProcStat.read(pid).orElse(null);
        if (now == null || now.startTime() != startTime) {
            close(fd);
            throw new java.io.IOException("process " + pid + " is not the one expected (start time " + startTime + ", found "
                    + (now == null ? "no process" : now.startTime()) + "): its pid was recycled; nothing signalled");
        }
        return new Signals(fd, pid);
    }

    /** Sends {@code signal}; returns 0, or the errno (3: the process is gone). */
    int send(int signal) {
        try {
            syscall(SYS_PIDFD_SEND_SIGNAL, pidfd, signal, 0, 0);
            return 0;
        } catch (LastErrorException e) {
            return e.getErrorCode();
        }
    }

    long pid() {
        return pid;
    }

    @Override
    public void close() {
        try {
            close(pidfd);
        } catch (LastErrorException e) {
            // nothing to do: the fd is gone either way
        }
    }
}

package io.resilientkvm.engine.process;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Everything needed to start one QEMU: its argv, where its QMP socket will appear, where its
 * output goes, and how long it may take to answer QMP.
 *
 * @param argv         the full command line, binary first
 * @param qmpSocket    the {@code -qmp unix:…} socket path in argv
 * @param logFile      QEMU's stdout and stderr are appended here
 * @param pidFile      the {@code -pidfile} in argv, removed on stop, if any
 * @param startTimeout how long QEMU may take to accept QMP
 */
public record QemuLaunch(List<String> argv, Path qmpSocket, Path logFile, Optional<Path> pidFile, Duration startTimeout) {
    public static final Duration DEFAULT_START_TIMEOUT = Duration.ofSeconds(30);

    public QemuLaunch {
        argv = List.copyOf(argv);
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("argv is empty: the first element must be the QEMU binary");
        }
        Objects.requireNonNull(qmpSocket, "qmpSocket");
        Objects.requireNonNull(logFile, "logFile");
        Objects.requireNonNull(pidFile, "pidFile");
        if (startTimeout.isNegative() || startTimeout.isZero()) {
            throw new IllegalArgumentException("startTimeout must be positive, got " + startTimeout);
        }
    }

    public QemuLaunch(List<String> argv, Path qmpSocket, Path logFile) {
        this(argv, qmpSocket, logFile, Optional.empty(), DEFAULT_START_TIMEOUT);
    }

    public QemuLaunch withStartTimeout(Duration timeout) {
        return new QemuLaunch(argv, qmpSocket, logFile, pidFile, timeout);
    }
}

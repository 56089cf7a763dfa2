package io.resilientkvm.exporter;

import io.resilientkvm.engine.error.OperatorException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs one backup in a JVM of its own (what {@code bin/exporter --qmp S --target D} does), so a
 * test can SIGKILL it mid-job. Exit codes as the CLI's: 0 done, else the error's exit status.
 * Arguments: QMP socket, target folder, speed limit in bytes/s (0 for none), and optionally
 * the guest agent's socket.
 */
public final class ExporterProcess {
    private ExporterProcess() {
    }

    public static void main(String[] args) {
        BackupRequest req = BackupRequest.of(Path.of(args[0]), Path.of(args[1])).withSpeed(Long.parseLong(args[2]));
        if (args.length > 3) {
            req = req.withGuestAgent(Path.of(args[3]));
        }
        try {
            BackupResult r = Exporter.backup(req);
            System.out.println("done: " + r);
            System.exit(0);
        } catch (OperatorException e) {
            System.err.println("failed: " + e.getMessage());
            System.exit(e.exitStatus().code());
        }
    }

    /** Starts this main in a new JVM with the test class path; its output goes to {@code log}. */
    static Process start(Path qmpSocket, Path target, long speed, Path log) throws IOException {
        return start(qmpSocket, target, speed, log, List.of(), List.of());
    }

    /**
     * As {@link #start(Path, Path, long, Path)}, with JVM options (system properties) and the
     * optional arguments after the speed.
     */
    static Process start(Path qmpSocket, Path target, long speed, Path log, List<String> jvmOptions,
            List<String> moreArgs) throws IOException {
        List<String> argv = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path")));
        argv.addAll(jvmOptions);
        argv.addAll(List.of(ExporterProcess.class.getName(), qmpSocket.toString(), target.toString(),
                Long.toString(speed)));
        argv.addAll(moreArgs);
        return new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }
}

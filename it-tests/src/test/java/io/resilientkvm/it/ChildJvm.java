package io.resilientkvm.it;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The agents and commands of these tests, each in a JVM of its own with the test class path. */
final class ChildJvm {
    private ChildJvm() {
    }

    /** Starts {@code args} (a main class and its arguments) after {@code jvmOptions}; output appended to {@code log}. */
    static Process start(List<String> jvmOptions, List<String> args, Path log) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path")));
        cmd.addAll(jvmOptions);
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
    }

    /** SIGKILLs every process whose command line names one of {@code dataDirs} (the agents' QEMUs). */
    static void killAllUsing(List<Path> dataDirs) {
        ProcessHandle.allProcesses().filter(p -> p.info().commandLine()
                .map(c -> dataDirs.stream().anyMatch(d -> c.contains(d.toString()))).orElse(false))
                .forEach(ProcessHandle::destroyForcibly);
    }
}

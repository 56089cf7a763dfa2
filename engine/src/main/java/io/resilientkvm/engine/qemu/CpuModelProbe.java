package io.resilientkvm.engine.qemu;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Picks the best CPU model this host's KVM accepts. {@code host} is the right choice on bare
 * metal, but nested hypervisors often refuse some of its MSRs (seen here: "failed to set MSR
 * 0x10a", arch-capabilities) and QEMU aborts at start. The probe starts QEMU once per binary with
 * each candidate, paused and without devices, and keeps the first that comes up.
 */
public final class CpuModelProbe {
    private static final Logger LOG = LoggerFactory.getLogger(CpuModelProbe.class);
    static final List<String> KVM_CANDIDATES = List.of("host", "host,-arch-capabilities", "qemu64");
    private static final Map<String, String> CACHE = new ConcurrentHashMap<>();

    private CpuModelProbe() {
    }

    /** The CPU model for {@code accelerator}: {@code max} under TCG, the best accepted one under KVM. */
    public static String cpuModel(String qemuBinary, Accelerator accelerator) {
        if (accelerator == Accelerator.TCG) {
            return "max";
        }
        return CACHE.computeIfAbsent(qemuBinary, CpuModelProbe::probe);
    }

    private static String probe(String binary) {
        for (String candidate : KVM_CANDIDATES) {
            String failure = tryModel(binary, candidate);
            if (failure == null) {
                if (!"host".equals(candidate)) {
                    LOG.warn("KVM refused CPU model 'host' on this host; using '{}'", candidate);
                }
                return candidate;
            }
            LOG.debug("CPU model {} refused: {}", candidate, failure);
        }
        LOG.warn("KVM accepted none of {}; using 'host' and letting QEMU report the error", KVM_CANDIDATES);
        return "host";
    }

    /** Null when QEMU came up with {@code model}, else what it said. */
    private static String tryModel(String binary, String model) {
        ProcessBuilder pb = new ProcessBuilder(binary, "-nodefaults", "-no-user-config", "-display", "none", "-machine", "pc",
                "-accel", "kvm", "-cpu", model, "-m", "32", "-S", "-qmp", "stdio").redirectErrorStream(true);
        try {
            Process p = pb.start();
            p.getOutputStream().write(qmpCommands("qmp_capabilities", "quit"));
            p.getOutputStream().close();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return "timed out";
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return p.exitValue() == 0 ? null : out.strip();
        } catch (IOException e) {
            return e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    /** QMP commands without arguments, one JSON object a line, for QEMU's {@code -qmp stdio}. */
    private static byte[] qmpCommands(String... commands) {
        StringBuilder lines = new StringBuilder();
        for (String c : commands) {
            lines.append(JsonNodeFactory.instance.objectNode().put("execute", c)).append('\n');
        }
        return lines.toString().getBytes(StandardCharsets.UTF_8);
    }
}

package io.resilientkvm.drill.guest;

import io.resilientkvm.engine.error.OperationFailedException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * KVM "when usable" for the tiny guest means more than an openable /dev/kvm: under some nested
 * hypervisors (seen here: an AMD EPYC guest) QEMU starts with KVM but the guest's firmware and
 * kernel crawl, printing nothing in minutes, while TCG boots it in about 10 s. So {@code auto}
 * boots the guest's kernel once with KVM and keeps KVM only if it reaches its console in time.
 */
public final class GuestAccelerator {
    private static final Duration PROBE = Duration.ofSeconds(20);
    private static String probed;

    private GuestAccelerator() {
    }

    /** {@code kvm} or {@code tcg} for {@code requested} (auto, kvm or tcg). */
    public static synchronized String resolve(String requested, GuestImage image, Path scratch, Consumer<String> progress)
            throws OperationFailedException {
        if (!"auto".equals(requested)) {
            return requested;
        }
        Path kvm = Path.of("/dev/kvm");
        if (!Files.isReadable(kvm) || !Files.isWritable(kvm)) {
            return "tcg";
        }
        if (probed == null) {
            probed = probe(image, scratch, progress);
        }
        return probed;
    }

    private static String probe(GuestImage image, Path scratch, Consumer<String> progress) throws OperationFailedException {
        Path console = scratch.resolve("kvm-probe-console.log");
        List<String> cmd = List.of("qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none", "-accel", "kvm",
                "-cpu", "host,-arch-capabilities", "-m", "256", "-kernel", image.kernel().toString(), "-initrd",
                image.initrd().toString(), "-append", "console=ttyS0 rdinit=/bin/true panic=-1", "-no-reboot", "-serial",
                "file:" + console);
        long t0 = System.nanoTime();
        Process p;
        try {
            Files.createDirectories(scratch);
            p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            throw new OperationFailedException("cannot start qemu-system-x86_64 to probe KVM: " + e.getMessage(), e);
        }
        try {
            long deadline = t0 + PROBE.toNanos();
            while (System.nanoTime() < deadline && p.isAlive()) {
                if (Files.exists(console) && Files.readString(console, StandardCharsets.ISO_8859_1).contains("Linux version")) {
                    progress.accept(String.format(java.util.Locale.ROOT, "KVM boots the guest's kernel (console after %.1f s): using KVM",
                            (System.nanoTime() - t0) / 1e9));
                    return "kvm";
                }
                Thread.sleep(200); // polling the console file; the deadline bounds it
            }
            progress.accept("KVM did not bring the guest's kernel to its console within " + PROBE.toSeconds()
                    + " s (a slow nested hypervisor?): using TCG");
            return "tcg";
        } catch (IOException e) {
            throw new OperationFailedException("cannot read " + console + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OperationFailedException("interrupted while probing KVM", e);
        } finally {
            p.destroyForcibly();
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

package io.resilientkvm.drill.guest;

import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.instance.AcceleratorChoice;
import io.resilientkvm.engine.instance.DirectBoot;
import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.VmHost;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.engine.process.RestartPolicy;
import io.resilientkvm.exporter.BackupRequest;
import io.resilientkvm.exporter.BackupResult;
import io.resilientkvm.exporter.DeviceBackup;
import io.resilientkvm.exporter.Exporter;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import io.resilientkvm.schemas.ValidationReport;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * bench/drill's throughput part: the tiny guest's bulk writer (4 MiB fsync'ed blocks) on a disk
 * of the given size, measured by the guest itself over a window without backups, then over the
 * same window with a backup (quiesced, incremental after the first full) every 5 s, in the
 * same VM. Usage: {@code GuestLoadBench DISK_GIB WINDOW_SECONDS [auto|kvm|tcg]}.
 */
public final class GuestLoadBench {
    private GuestLoadBench() {
    }

    public static void main(String[] args) throws Exception {
        int diskGiB = Integer.parseInt(args[0]);
        int window = Integer.parseInt(args[1]);
        String requested = args.length > 2 ? args[2] : "auto";
        Path dir = Files.createTempDirectory("rkvm-guest-load-");
        try {
            run(diskGiB, window, requested, dir);
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static void run(int diskGiB, int window, String requested, Path dir) throws Exception {
        GuestImage image = GuestImage.obtain(System.err::println);
        String accel = GuestAccelerator.resolve(requested, image, dir.resolve("probe"), System.err::println);
        int guestPort;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            guestPort = s.getLocalPort() - 10000;
        }
        ValidationReport r = ParameterValidator.of(SchemaKind.KVM_INSTANCE).validate(JsonDocuments.parseObject(
                "{\"ram-size\": 256, \"cpu-count\": 1, \"disk-size\": " + diskGiB + ", \"use-tap\": false,"
                        + " \"nat-restrict-mode\": true, \"nat-rules\": [" + guestPort + "]}", "bench"));
        if (!r.valid()) {
            throw new IllegalArgumentException(r.violations().toString());
        }
        VmHost host = new VmHost("127.0.0.1", "", "tap0", "none", Optional.empty(), "qemu-system-x86_64",
                AcceleratorChoice.valueOf(accel.toUpperCase(Locale.ROOT)), Optional.empty())
                .withBoot(new DirectBoot(image.kernel(), image.initrd(), GuestImage.append(guestPort, 10, true)));
        InstanceLayout layout = new InstanceLayout(dir.resolve("vm"));
        int hostPort = 10000 + guestPort;
        try (KvmInstance vm = KvmInstance.prepare("bench", KvmParameters.fromEffective(r.effective()), host, layout)) {
            vm.start(RestartPolicy.NEVER);
            long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
            while (bulk(hostPort).map(b -> b[0] < 8).orElse(true)) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("the guest's bulk writer did not start within 5 min; see " + layout.log());
                }
                Thread.sleep(500); // waiting for the guest to boot; bounded by the deadline
            }
            Path repo = dir.resolve("repo");
            BackupRequest request = BackupRequest.of(layout.backupQmpSocket(), repo).withGuestAgent(
                    image.guestAgent() ? layout.guestAgentSocket() : null).withPause(!image.guestAgent());
            // The first full is not part of either window: it copies the whole disk once.
            BackupResult full = Exporter.backup(request);
            double without = measure(hostPort, window, null);
            long[] copied = new long[2];
            double with = measure(hostPort, window, () -> {
                BackupResult inc = Exporter.backup(request);
                copied[0]++;
                copied[1] += inc.backups().stream().mapToLong(DeviceBackup::bytes).sum();
            });
            System.out.printf(Locale.ROOT, "disk %d GiB, %s: guest bulk writes %.1f MiB/s without backups, %.1f MiB/s with a"
                    + " backup every 5 s (%d incrementals covering %.1f MiB; the first full, outside both windows, %.1f MiB); cost %.0f %%%n", diskGiB, accel,
                    without, with, copied[0], copied[1] / 1048576.0,
                    full.backups().stream().mapToLong(DeviceBackup::bytes).sum() / 1048576.0, 100 * (1 - with / without));
        }
    }

    private interface Step {
        void run() throws OperatorException;
    }

    /** MiB/s the guest wrote over {@code seconds} (its own counter and clock), running {@code every5s} every 5 s. */
    private static double measure(int hostPort, int seconds, Step every5s) throws Exception {
        double[] start = bulk(hostPort).orElseThrow();
        long end = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        long next = System.nanoTime();
        while (System.nanoTime() < end) {
            if (every5s != null && System.nanoTime() >= next) {
                every5s.run();
                next += Duration.ofSeconds(5).toNanos();
            }
            Thread.sleep(100); // pacing the 5 s schedule; bounded by the window
        }
        double[] stop = bulk(hostPort).orElseThrow();
        return (stop[0] - start[0]) / (stop[1] - start[1]);
    }

    private static Optional<double[]> bulk(int hostPort) {
        return GuestHttp.get(hostPort, "/bulk", Duration.ofSeconds(10)).map(b -> new String(b, StandardCharsets.US_ASCII).trim()
                .split("\\s+")).filter(f -> f.length == 2).map(f -> new double[] {Double.parseDouble(f[0]), Double.parseDouble(f[1])});
    }
}

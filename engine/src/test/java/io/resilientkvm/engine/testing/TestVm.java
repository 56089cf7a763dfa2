package io.resilientkvm.engine.testing;

import io.resilientkvm.engine.process.QemuLaunch;
import io.resilientkvm.engine.process.QemuProcess;
import io.resilientkvm.engine.process.QemuStartException;
import io.resilientkvm.engine.process.StopPolicy;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway QEMU with no guest OS for tests: paused ({@code -S}) or running, its disks
 * attached the way operators do it, and guest writes made through HMP qemu-io so that tests
 * know exactly which bytes changed.
 *
 * <pre>{@code
 * try (TestVm vm = TestVm.builder(dir).disk("virtio0", TestVm.blankQcow2(dir.resolve("d.qcow2"), 64 << 20)).start()) {
 *     vm.write("virtio0", 0x41, 0, 1 << 20);
 * }
 * }</pre>
 */
public final class TestVm implements AutoCloseable {
    /** How a disk is attached: modern {@code -blockdev} + {@code -device}, or legacy {@code -drive}. */
    public enum Attach { BLOCKDEV, DRIVE }

    public record Disk(String deviceId, Path file, String format, Attach attach) {}

    private final QemuProcess process;
    private final List<Disk> disks;
    private final Path dir;

    private final Path secondQmp;

    private TestVm(QemuProcess process, List<Disk> disks, Path dir, Path secondQmp) {
        this.process = process;
        this.disks = List.copyOf(disks);
        this.dir = dir;
        this.secondQmp = secondQmp;
    }

    /**
     * A second QMP socket for another client (another process) beside {@link #qmp()}: QEMU
     * serves one client per socket. Present only when built with {@link Builder#secondQmp()}.
     */
    public Path secondQmpSocket() {
        if (secondQmp == null) {
            throw new IllegalStateException("this TestVm was built without secondQmp()");
        }
        return secondQmp;
    }

    public static Builder builder(Path dir) {
        return new Builder(dir);
    }

    /** Creates a blank qcow2 of {@code sizeBytes} with qemu-img and returns its path. */
    public static Path blankQcow2(Path file, long sizeBytes) throws IOException {
        run(List.of("qemu-img", "create", "-q", "-f", "qcow2", file.toString(), Long.toString(sizeBytes)));
        return file;
    }

    /** True when qemu-img compare says the two images hold the same data. */
    public static boolean sameContent(Path a, Path b) throws IOException {
        Process p = new ProcessBuilder("qemu-img", "compare", "-U", a.toString(), b.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        int code = waitFor(p);
        if (code > 1) {
            throw new IOException("qemu-img compare " + a + " " + b + " failed (" + code + "): " + out);
        }
        return code == 0;
    }

    static void run(List<String> argv) throws IOException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        int code = waitFor(p);
        if (code != 0) {
            throw new IOException(String.join(" ", argv) + " failed (" + code + "): " + out);
        }
    }

    private static int waitFor(Process p) throws IOException {
        try {
            if (!p.waitFor(2, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("timed out: " + p.info().commandLine().orElse("?"));
            }
            return p.exitValue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    public QmpClient qmp() {
        return process.qmp();
    }

    public QemuProcess process() {
        return process;
    }

    public List<Disk> disks() {
        return disks;
    }

    public Path dir() {
        return dir;
    }

    /** The QOM path qemu-io needs for a device (virtio-blk wants its backend's full path). */
    public static String qemuIoTarget(String deviceId) {
        return deviceId.startsWith("virtio") ? "/machine/peripheral/" + deviceId + "/virtio-backend" : deviceId;
    }

    /**
     * The guest writes {@code length} bytes of {@code pattern} at {@code offset} of the disk.
     * QEMU 7.2 prints qemu-io's report on its own stdout; the HMP reply is empty on success
     * and carries the error otherwise.
     */
    public void write(String deviceId, int pattern, long offset, long length) throws QmpException {
        String out = process.qmp().humanMonitorCommand(String.format("qemu-io -d %s \"write -P 0x%02x %d %d\"",
                qemuIoTarget(deviceId), pattern, offset, length), Duration.ofMinutes(2));
        if (!out.isBlank()) {
            throw new IllegalStateException("qemu-io write on " + deviceId + " failed: " + out.strip());
        }
    }

    /**
     * The guest writes the first {@code length} bytes of the host file {@code source} (random
     * data, say) at {@code offset} of the disk, like {@link #write} (qemu-io {@code write -s}).
     */
    public void writeFrom(String deviceId, Path source, long offset, long length) throws QmpException {
        String out = process.qmp().humanMonitorCommand(String.format("qemu-io -d %s \"write -s %s %d %d\"",
                qemuIoTarget(deviceId), source, offset, length), Duration.ofMinutes(2));
        if (!out.isBlank()) {
            throw new IllegalStateException("qemu-io write from " + source + " on " + deviceId + " failed: " + out.strip());
        }
    }

    /**
     * True when the image (not in use by a running QEMU) holds {@code pattern} over the whole
     * range, read with the qemu-io tool.
     */
    public static boolean hasPattern(Path image, int pattern, long offset, long length) throws IOException {
        Process p = new ProcessBuilder("qemu-io", "-r", "-U", "-c",
                String.format("read -P 0x%02x %d %d", pattern, offset, length), image.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        int code = waitFor(p);
        if (out.contains("Pattern verification failed")) {
            return false;
        }
        if (code != 0) {
            throw new IOException("qemu-io read of " + image + " failed (" + code + "): " + out);
        }
        return true;
    }

    /** A clean stop: QMP quit, so QEMU writes persistent bitmaps into the images. */
    public void quit() {
        process.stop(StopPolicy.QUIT);
    }

    /** A crash: SIGKILL, nothing flushed. */
    public void kill() {
        process.kill(Duration.ofSeconds(10));
    }

    @Override
    public void close() {
        process.close();
    }

    public static final class Builder {
        private final Path dir;
        private final List<Disk> disks = new ArrayList<>();
        private boolean paused = true;
        private String name = "vm";
        private boolean secondQmp;

        private Builder(Path dir) {
            this.dir = dir;
        }

        public Builder name(String vmName) {
            this.name = vmName;
            return this;
        }

        /** Adds a qcow2 disk attached with -blockdev (node name = device id + "-fmt"). */
        public Builder disk(String deviceId, Path file) {
            return disk(deviceId, file, "qcow2", Attach.BLOCKDEV);
        }

        public Builder disk(String deviceId, Path file, String format, Attach attach) {
            disks.add(new Disk(deviceId, file, format, attach));
            return this;
        }

        /** Adds a second QMP socket, for a client in another process (see {@link TestVm#secondQmpSocket()}). */
        public Builder secondQmp() {
            this.secondQmp = true;
            return this;
        }

        /** Paused (-S, the default) or running; no guest OS either way. */
        public Builder running(boolean run) {
            this.paused = !run;
            return this;
        }

        public TestVm start() throws QemuStartException {
            Path socket = dir.resolve(name + ".qmp");
            List<String> argv = new ArrayList<>(List.of("qemu-system-x86_64", "-nodefaults", "-display", "none",
                    "-machine", "pc", "-accel", Files.isWritable(Path.of("/dev/kvm")) ? "kvm" : "tcg", "-m", "128",
                    "-name", name, "-qmp", "unix:" + socket + ",server=on,wait=off"));
            if (paused) {
                argv.add("-S");
            }
            Path second = secondQmp ? dir.resolve(name + "-2.qmp") : null;
            if (second != null) {
                argv.addAll(List.of("-qmp", "unix:" + second + ",server=on,wait=off"));
            }
            int index = 0;
            for (Disk d : disks) {
                if (d.attach() == Attach.BLOCKDEV) {
                    argv.addAll(List.of("-blockdev", "driver=file,filename=" + d.file() + ",node-name=" + d.deviceId()
                            + "-file,discard=unmap", "-blockdev", "driver=" + d.format() + ",file=" + d.deviceId()
                            + "-file,node-name=" + d.deviceId() + "-fmt,discard=unmap",
                            "-device", "virtio-blk-pci,drive=" + d.deviceId() + "-fmt,id=" + d.deviceId()));
                } else {
                    // -drive with if=virtio names the backend virtio<index>, as the seed system's VMs do.
                    argv.addAll(List.of("-drive", "file=" + d.file() + ",format=" + d.format() + ",if=virtio,index=" + index));
                }
                index++;
            }
            return new TestVm(QemuProcess.start(new QemuLaunch(argv, socket, dir.resolve(name + ".log"))
                    .withStartTimeout(Duration.ofSeconds(60))), disks, dir, second);
        }
    }
}

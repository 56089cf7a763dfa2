package io.resilientkvm.importer.testing;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Sha256;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Builds a real backup repository with qemu-img and qemu-io, the way the exporter lays it out:
 * a full is the whole disk converted into a new chain, an incremental a qcow2 overlay on the
 * previous file (relative backing name) into which only the new writes go, each with its
 * manifest. Every write also goes to a raw reference disk, and a copy of the reference is kept
 * per backup, to compare restores against ({@code qemu-img compare}).
 */
public final class TestRepository {
    /** One backup made, and the disk as it was at that backup. */
    public record Point(String device, String chainId, String file, Instant time, Path reference) {
        public String name() {
            return chainId + "/" + file;
        }
    }

    private final Path root;
    private final Path work;
    private final String device;
    private final long size;
    private final Path disk;
    private final List<Point> points = new ArrayList<>();
    private String chainId;
    private String lastFile;
    private int sequence;

    /**
     * @param root   the repository to fill
     * @param work   a folder outside it for the reference disks
     * @param device the disk's folder name
     * @param size   the disk's size in bytes
     */
    public TestRepository(Path root, Path work, String device, long size) throws IOException, InterruptedException {
        this.root = root;
        this.work = Files.createDirectories(work.resolve(device));
        this.device = device;
        this.size = size;
        this.disk = this.work.resolve("disk.raw");
        run(List.of("qemu-img", "create", "-q", "-f", "raw", disk.toString(), Long.toString(size)));
    }

    public Path root() {
        return root;
    }

    public List<Point> points() {
        return List.copyOf(points);
    }

    /** Applies qemu-io commands (e.g. {@code write -P 0x41 0 1M}) and takes a full backup into a new chain. */
    public Point full(Instant time, String... qemuIo) throws IOException, InterruptedException {
        write(disk, "raw", qemuIo);
        chainId = BackupRepository.stamp(time);
        sequence = 0;
        Path dir = Files.createDirectories(root.resolve(device).resolve(chainId));
        String file = "FULL-" + chainId + ".qcow2";
        run(List.of("qemu-img", "convert", "-f", "raw", "-O", "qcow2", disk.toString(), dir.resolve(file).toString()));
        return publish(dir, file, null, time);
    }

    /** Applies qemu-io commands and takes an incremental (only these writes) onto the current chain. */
    public Point inc(Instant time, String... qemuIo) throws IOException, InterruptedException {
        write(disk, "raw", qemuIo);
        sequence++;
        Path dir = root.resolve(device).resolve(chainId);
        String file = "INC-" + BackupRepository.stamp(time) + ".qcow2";
        run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", lastFile, dir.resolve(file).toString()));
        write(dir.resolve(file), "qcow2", qemuIo);
        return publish(dir, file, lastFile, time);
    }

    private Point publish(Path dir, String file, String parent, Instant time) throws IOException, InterruptedException {
        Path f = dir.resolve(file);
        BackupManifest m = new BackupManifest(BackupManifest.FORMAT_VERSION, "test", device, chainId, sequence,
                parent == null ? BackupManifest.Level.FULL : BackupManifest.Level.INC, file, parent,
                "qmpbackup-" + device + "-" + chainId, size, Files.size(f), Sha256.of(f), time, time, time, 0, 0, 0);
        AtomicFiles.writeAtomically(BackupManifest.manifestPath(f), m.toJson());
        lastFile = file;
        Path reference = work.resolve("ref-" + points.size() + ".raw");
        run(List.of("cp", "--sparse=always", disk.toString(), reference.toString()));
        Point p = new Point(device, chainId, file, time, reference);
        points.add(p);
        return p;
    }

    private static void write(Path image, String format, String... qemuIo) throws IOException, InterruptedException {
        if (qemuIo.length == 0) {
            return;
        }
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", format));
        for (String c : qemuIo) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(image.toString());
        run(cmd);
    }

    /** Runs a command to success within a minute; returns its output. */
    public static String run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + " did not finish within 60 s");
        }
        if (p.exitValue() != 0 || out.contains("failed")) {
            throw new IOException(String.join(" ", command) + " failed (" + p.exitValue() + "): " + out);
        }
        return out;
    }

    /** True when the two images hold the same data ({@code qemu-img compare}, formats probed). */
    public static boolean sameData(Path a, Path b) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("qemu-img", "compare", "-U", a.toString(), b.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("qemu-img compare " + a + " " + b + " hung");
        }
        if (p.exitValue() > 1) {
            throw new IOException("qemu-img compare " + a + " " + b + " could not compare: " + out);
        }
        return p.exitValue() == 0;
    }
}

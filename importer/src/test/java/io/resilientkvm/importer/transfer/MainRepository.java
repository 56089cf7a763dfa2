package io.resilientkvm.importer.transfer;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.exporter.repository.JobFigures;
import io.resilientkvm.exporter.repository.PendingBackup;
import io.resilientkvm.exporter.repository.Repository;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * A main's repository with real images: a full backup of random data (qemu-img convert) and
 * incrementals written with qemu-io, published through the exporter's own repository code.
 * Its manifests carry epoch 1.
 */
public final class MainRepository {
    static final long MIB = 1 << 20;
    static final long VIRTUAL = 16 * MIB;

    private final Repository repo;
    private final Path work;

    public MainRepository(Path root, Path work) {
        this.repo = new Repository(root);
        this.work = work;
    }

    public Path root() {
        return repo.root();
    }

    /** A full backup whose first {@code mib} MiB are random (seeded) data. */
    public BackupManifest full(int mib, long seed) throws Exception {
        Path raw = work.resolve("src-" + seed + ".raw");
        Random r = new Random(seed);
        byte[] chunk = new byte[(int) MIB];
        try (OutputStream out = Files.newOutputStream(raw)) {
            for (int i = 0; i < mib; i++) {
                r.nextBytes(chunk);
                out.write(chunk);
            }
        }
        try (var ch = java.nio.channels.FileChannel.open(raw, java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(VIRTUAL);
            ch.position(VIRTUAL - 1).write(java.nio.ByteBuffer.wrap(new byte[] {0}));
        }
        PendingBackup p = repo.begin("virtio0", Level.FULL, null, "qmpbackup-virtio0-");
        new QemuImg("qemu-img", Duration.ofMinutes(2)).convert(raw, "raw", p.partialFile(), "qcow2");
        Files.delete(raw);
        return repo.complete(p, "vm", VIRTUAL, 1, figures());
    }

    /** An incremental on the newest chain holding {@code mib} MiB of pattern {@code pattern} at offset 1 MiB. */
    BackupManifest inc(int mib, int pattern) throws Exception {
        Chain chain = repo.newestChain("virtio0").orElseThrow();
        PendingBackup p = repo.begin("virtio0", Level.INC, chain, "ignored");
        io.resilientkvm.exporter.image.QemuImg.createIncremental(p.partialFile(), p.parent(), VIRTUAL, 65536);
        run(List.of("qemu-io", "-f", "qcow2", "-c", "write -P " + pattern + " 1M " + mib + "M",
                p.partialFile().toString()));
        return repo.complete(p, "vm", VIRTUAL, 1, figures());
    }

    public Path file(BackupManifest m) {
        return root().resolve(m.device()).resolve(m.chainId()).resolve(m.file());
    }

    private static JobFigures figures() {
        Instant now = Instant.now();
        return new JobFigures(now, now, 0);
    }

    static void run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException(cmd + " timed out");
        }
        if (p.exitValue() != 0) {
            throw new IOException(cmd + " exited " + p.exitValue() + ": " + out);
        }
    }
}

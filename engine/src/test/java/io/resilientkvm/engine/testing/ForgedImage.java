package io.resilientkvm.engine.testing;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.Sha256;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Rewrites the header of a real qemu-img-made qcow2 the way an attacker on the main would, by
 * editing its bytes (written independently of the code under test, from qcow2.txt): the backing
 * name, the backing format extension, an external data file, the virtual size; then
 * {@link #rehash} makes its manifest match again, as a compromised exporter would publish it.
 */
public final class ForgedImage {
    private static final long EXT_BACKING_FORMAT = 0xe2792acaL;
    private static final long EXT_DATA_FILE = 0x44415441L;

    private record Ext(long type, byte[] data) {}

    private final Path file;
    private final ByteBuffer cluster;
    private final int headerLength;
    private final List<Ext> extensions = new ArrayList<>();
    private String backing;

    private ForgedImage(Path file) throws IOException {
        this.file = file;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer head = ByteBuffer.allocate(104);
            ch.read(head, 0);
            int clusterBits = head.getInt(20);
            cluster = ByteBuffer.allocate(1 << clusterBits).order(ByteOrder.BIG_ENDIAN);
            ch.read(cluster, 0);
        }
        headerLength = cluster.getInt(4) == 2 ? 72 : cluster.getInt(100);
        int pos = headerLength;
        while (cluster.getInt(pos) != 0) {
            long type = Integer.toUnsignedLong(cluster.getInt(pos));
            int length = cluster.getInt(pos + 4);
            byte[] data = new byte[length];
            cluster.get(pos + 8, data);
            extensions.add(new Ext(type, data));
            pos += 8 + ((length + 7) & ~7);
        }
        long offset = cluster.getLong(8);
        if (offset != 0) {
            byte[] name = new byte[cluster.getInt(16)];
            cluster.get((int) offset, name);
            backing = new String(name, StandardCharsets.UTF_8);
        }
    }

    /** Opens a qcow2 for forging; {@link #write} applies the changes. */
    public static ForgedImage of(Path file) throws IOException {
        return new ForgedImage(file);
    }

    public ForgedImage backing(String name) {
        backing = name;
        return this;
    }

    public ForgedImage backingFormat(String format) {
        extensions.removeIf(e -> e.type() == EXT_BACKING_FORMAT);
        extensions.add(0, new Ext(EXT_BACKING_FORMAT, format.getBytes(StandardCharsets.UTF_8)));
        return this;
    }

    public ForgedImage withoutBackingFormat() {
        extensions.removeIf(e -> e.type() == EXT_BACKING_FORMAT);
        return this;
    }

    /** Sets the external data file bit (version 3 only) and adds the data file name extension. */
    public ForgedImage dataFile(String name) {
        cluster.putLong(72, cluster.getLong(72) | 1L << 2);
        extensions.add(new Ext(EXT_DATA_FILE, name.getBytes(StandardCharsets.UTF_8)));
        return this;
    }

    public ForgedImage virtualSize(long size) {
        cluster.putLong(24, size);
        return this;
    }

    /** Writes the header back: the extensions after the header, then the backing name. */
    public void write() throws IOException {
        ByteBuffer b = cluster.duplicate().order(ByteOrder.BIG_ENDIAN);
        for (int i = headerLength; i < b.capacity(); i++) {
            b.put(i, (byte) 0);
        }
        int pos = headerLength;
        for (Ext e : extensions) {
            b.putInt(pos, (int) e.type()).putInt(pos + 4, e.data().length).put(pos + 8, e.data());
            pos += 8 + ((e.data().length + 7) & ~7);
        }
        pos += 8; // the end marker, already zero
        if (backing == null) {
            b.putLong(8, 0).putInt(16, 0);
        } else {
            byte[] name = backing.getBytes(StandardCharsets.UTF_8);
            b.put(pos, name).putLong(8, pos).putInt(16, name.length);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(b.position(0).limit(b.capacity()), 0);
        }
    }

    /** Cuts the file to {@code size} bytes. */
    public static void truncate(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    /** Rewrites the file's manifest with its new size and SHA-256, as a compromised main would publish it. */
    public static void rehash(Path file) throws Exception {
        rehash(file, BackupManifest.read(BackupManifest.manifestPath(file)).epoch());
    }

    /** As {@link #rehash(Path)}, the manifest carrying {@code epoch} (a main publishes only its own epoch's). */
    public static void rehash(Path file, long epoch) throws Exception {
        Path manifest = BackupManifest.manifestPath(file);
        BackupManifest m = BackupManifest.read(manifest);
        BackupManifest forged = new BackupManifest(m.formatVersion(), m.instance(), m.device(), m.chainId(), m.sequence(),
                m.level(), m.file(), m.parent(), m.bitmap(), m.virtualSize(), Files.size(file), Sha256.of(file),
                m.createdAt(), m.startedAt(), m.finishedAt(), epoch, m.bytesTransferred(), m.durationMillis());
        Files.writeString(manifest, forged.toJson());
    }

    /** A FIFO at {@code path}: whoever opens it blocks until a writer comes, which no test provides. */
    public static Path fifo(Path path) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("mkfifo", path.toString()).redirectErrorStream(true).start();
        if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("mkfifo " + path + " failed: " + new String(p.getInputStream().readAllBytes(),
                    StandardCharsets.UTF_8));
        }
        return path;
    }

    /**
     * Runs {@code qemu-img ARGS} (for images the {@code QemuImg} wrapper does not make, e.g. a
     * backing file named with {@code -u}, never opened); fails with its output.
     */
    public static void qemuImg(String... args) throws IOException, InterruptedException {
        java.util.List<String> command = new java.util.ArrayList<>(java.util.List.of("qemu-img"));
        command.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + output);
        }
    }
}

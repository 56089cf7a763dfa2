package io.resilientkvm.engine.image;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A backup chain whose every file passed {@link ImageInspector}: the full has no backing file,
 * each incremental names exactly its predecessor in the same folder with backing format qcow2,
 * none has an external data file, all have the same virtual size. Only such a chain is handed to
 * qemu-img as a chain ({@code QemuImg.convertChain}), so what qemu-img opens is these files.
 */
public final class TrustedChain {
    private final List<Path> files;
    private final long virtualSize;

    private TrustedChain(List<Path> files, long virtualSize) {
        this.files = List.copyOf(files);
        this.virtualSize = virtualSize;
    }

    /**
     * Inspects every file of a chain.
     *
     * @param filesOldestFirst the full first, then each incremental, all in one folder
     * @param virtualSize      the size every file must have (the manifests'), or -1 to take the full's
     * @throws UntrustedImageException the first file that is not what it must be
     */
    public static TrustedChain verify(List<Path> filesOldestFirst, long virtualSize) throws IOException,
            UntrustedImageException {
        if (filesOldestFirst.isEmpty()) {
            throw new IllegalArgumentException("a chain has at least a full backup");
        }
        List<Path> files = new ArrayList<>();
        Path dir = filesOldestFirst.get(0).toAbsolutePath().getParent();
        long size = virtualSize;
        for (Path f : filesOldestFirst) {
            Path file = f.toAbsolutePath();
            if (!Objects.equals(file.getParent(), dir)) {
                throw new IllegalArgumentException("a chain lies in one folder: " + file + " is not in " + dir);
            }
            ImageInspector.Expected expected = files.isEmpty() ? ImageInspector.Expected.standalone(size)
                    : ImageInspector.Expected.backedBy(files.get(files.size() - 1).getFileName().toString(), size);
            QcowHeader h = ImageInspector.inspect(file, expected);
            size = h.virtualSize();
            files.add(file);
        }
        return new TrustedChain(files, size);
    }

    /** The files, the full first. */
    public List<Path> files() {
        return files;
    }

    /** The newest file: the point the chain restores. */
    public Path top() {
        return files.get(files.size() - 1);
    }

    public long virtualSize() {
        return virtualSize;
    }
}

package io.resilientkvm.engine.disk;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes the disks of a VM exist before it starts, without ever overwriting one: creates a missing
 * main disk (or downloads it from {@code virtual-hard-drive-url}), creates missing legacy external
 * disks, and requires modern external disks to exist already.
 *
 * <p>Order matters for safety: the {@link DataDiskRegistry} check and the modern-path check run first,
 * so a refused or invalid request creates, downloads and modifies nothing.
 */
public final class DiskProvisioner {
    private static final Logger LOG = LoggerFactory.getLogger(DiskProvisioner.class);

    private final QemuImg qemuImg;
    private final ImageDownloader downloader;

    /**
     * What to provision.
     *
     * @param instanceDir   the instance directory (holds {@code etc/.data-disk-*})
     * @param dataDir       the directory for legacy external disks
     * @param mainDisk      the main disk
     * @param image         the image to download when the main disk does not exist, or {@code null}
     * @param legacyDisks   the legacy external disks ({@link LegacyExternalDisks#NONE} when unused)
     * @param externalDisks the modern {@code external-disk} entries, in any order (empty when unused)
     */
    public record Request(Path instanceDir, Path dataDir, MainDisk mainDisk, ImageDownloader.Source image,
            LegacyExternalDisks legacyDisks, List<ExternalDisk> externalDisks) {
        public Request {
            Objects.requireNonNull(instanceDir, "instanceDir");
            Objects.requireNonNull(dataDir, "dataDir");
            Objects.requireNonNull(mainDisk, "mainDisk");
            legacyDisks = legacyDisks == null ? LegacyExternalDisks.NONE : legacyDisks;
            externalDisks = externalDisks == null ? List.of() : List.copyOf(externalDisks);
        }
    }

    /**
     * The disks to attach, in order: the main disk first, then the external disks by index.
     *
     * @param disks the disks in attachment order
     */
    public record Provisioned(List<DiskSpec> disks) {
        public Provisioned {
            disks = List.copyOf(disks);
        }

        public MainDisk mainDisk() {
            return (MainDisk) disks.get(0);
        }

        public List<ExternalDisk> externalDisks() {
            return disks.stream().skip(1).map(ExternalDisk.class::cast).toList();
        }
    }

    public DiskProvisioner(QemuImg qemuImg, ImageDownloader downloader) {
        this.qemuImg = Objects.requireNonNull(qemuImg, "qemuImg");
        this.downloader = Objects.requireNonNull(downloader, "downloader");
    }

    public Provisioned provision(Request request) throws OperatorException {
        boolean modernGiven = !request.externalDisks().isEmpty();
        List<ExternalDisk> external = modernGiven
                ? request.externalDisks().stream()
                        .sorted(Comparator.comparingInt(ExternalDisk::index).thenComparing(ExternalDisk::id)).toList()
                : request.legacyDisks().disks(request.dataDir());
        List<String> ids = external.stream().map(ExternalDisk::id).toList();

        // Checks first: nothing is touched before both pass.
        DataDiskRegistry registry = new DataDiskRegistry(request.instanceDir());
        registry.check(ids, modernGiven, request.legacyDisks().number());
        if (modernGiven) {
            requireExisting(external);
        }

        MainDisk main = provisionMain(request);
        if (!modernGiven) {
            for (ExternalDisk disk : external) {
                createIfMissing(disk.path(), disk.format(), request.legacyDisks().sizeBytes());
            }
        }
        registry.record(ids);

        List<DiskSpec> disks = new ArrayList<>();
        disks.add(main);
        disks.addAll(external);
        return new Provisioned(disks);
    }

    private static void requireExisting(List<ExternalDisk> disks) throws BadInputException {
        List<String> problems = new ArrayList<>();
        for (ExternalDisk disk : disks) {
            if (!Files.exists(disk.path())) {
                problems.add("external-disk '" + disk.name() + "': path " + disk.path() + " does not exist;"
                        + " create the disk (e.g. qemu-img create) or fix the path");
            }
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
    }

    private MainDisk provisionMain(Request request) throws OperatorException {
        MainDisk main = request.mainDisk();
        if (Files.exists(main.file())) {
            LOG.info("main disk {} exists, keeping it", main.file());
            return main;
        }
        if (request.image() == null) {
            createIfMissing(main.file(), main.format(), main.sizeBytes());
            return main;
        }
        createParent(main.file());
        Path staged = main.file().resolveSibling(main.file().getFileName() + ".download");
        try {
            Files.deleteIfExists(staged); // left by a crash between download and check
        } catch (IOException e) {
            throw new OperationFailedException("cannot remove the stale " + staged + ": " + e + "; remove it by hand", e);
        }
        downloader.download(request.image(), staged);
        boolean kept = false;
        try {
            ImageInfo info = qemuImg.info(staged);
            if (info.backingFile() != null) {
                throw new BadInputException("the image downloaded from " + ImageDownloader.redact(request.image().url())
                        + " has a backing file (" + info.backingFile() + "), which could expose host files to the"
                        + " guest; use a self-contained image (qemu-img convert)");
            }
            if ("qcow2".equals(info.format())) {
                AtomicFiles.forceAndMoveNew(staged, main.file());
                kept = true;
                LOG.info("main disk {} downloaded", main.file());
                return main.withFormat("qcow2");
            }
            // Persistent dirty bitmaps, hence incremental backups, need qcow2: convert once, here.
            Path converting = main.file().resolveSibling(main.file().getFileName() + ".creating");
            deleteQuietly(converting);
            LOG.info("converting the downloaded {} image to qcow2 for {}", info.format(), main.file());
            try {
                qemuImg.convert(staged, info.format(), converting, "qcow2");
                AtomicFiles.forceAndMoveNew(converting, main.file());
            } finally {
                deleteQuietly(converting);
            }
            LOG.info("main disk {} downloaded ({} converted to qcow2)", main.file(), info.format());
            return main.withFormat("qcow2");
        } catch (IOException e) {
            throw new OperationFailedException("cannot move the downloaded image " + staged + " to " + main.file()
                    + ": " + e + "; check the directory, then retry", e);
        } finally {
            if (!kept) {
                deleteQuietly(staged);
            }
        }
    }

    /** Creates the image under a temporary name, then renames it, so a crash never leaves a half-made disk. */
    private void createIfMissing(Path file, String format, long sizeBytes) throws OperatorException {
        if (Files.exists(file)) {
            LOG.info("disk {} exists, keeping it", file);
            return;
        }
        createParent(file);
        Path tmp = file.resolveSibling(file.getFileName() + ".creating");
        deleteQuietly(tmp);
        boolean kept = false;
        try {
            qemuImg.create(tmp, format, sizeBytes, Map.of());
            AtomicFiles.forceAndMoveNew(tmp, file); // never overwrite a disk
            kept = true;
            LOG.info("created disk {} ({} bytes, {})", file, sizeBytes, format);
        } catch (IOException e) {
            throw new OperationFailedException("cannot move the new disk " + tmp + " to " + file + ": " + e
                    + "; check the directory, then retry", e);
        } finally {
            if (!kept) {
                deleteQuietly(tmp);
            }
        }
    }

    private static void createParent(Path file) throws OperationFailedException {
        Path parent = file.toAbsolutePath().getParent();
        try {
            AtomicFiles.createDirectories(parent);
        } catch (IOException e) {
            throw new OperationFailedException("cannot create the directory " + parent + " for disk " + file + ": " + e
                    + "; check permissions and free space", e);
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            LOG.warn("cannot delete {}; delete it by hand", file, e);
        }
    }
}

package io.resilientkvm.engine.disk;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.image.BackingChain;
import io.resilientkvm.engine.image.FormatProbe;
import io.resilientkvm.engine.image.UntrustedImageException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
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
 * <p>Nothing that came from elsewhere reaches qemu-img or QEMU with a guessed format. A downloaded
 * image is qcow2 (checked standalone in Java: no backing file, no data file) or raw, decided by
 * {@link FormatProbe} from its header, and converted with {@code -f raw}; other formats are refused.
 * A modern external disk's format is fixed at first attach (given, or probed once in Java) and
 * recorded in {@code etc/.data-disk-formats}; every later start uses the record, so a guest that
 * writes a qcow2 header onto its raw disk still gets a raw disk. A qcow2 external disk is checked
 * in Java before every start: no backing file, no external data file.
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
            external = fixFormats(registry, external, request.instanceDir().resolve("srv").resolve("backup"));
        }

        MainDisk main = provisionMain(request);
        if (!modernGiven) {
            for (ExternalDisk disk : external) {
                createIfMissing(disk.path(), disk.format(), request.legacyDisks().sizeBytes());
            }
        }
        registry.record(ids);
        if (modernGiven) {
            Map<String, String> formats = new LinkedHashMap<>();
            external.forEach(d -> formats.put(d.id(), d.format()));
            if (!formats.equals(registry.formats())) {
                registry.recordFormats(formats);
            }
        }

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

    /**
     * Each disk's format: the one recorded at first attach, else the one given, else probed in Java
     * ({@link FormatProbe}); a qcow2 is checked before every start: standalone, or an instant
     * overlay on its restored chain in {@code repository} (a promoted clone's,
     * {@link BackingChain}). Writes nothing.
     */
    private static List<ExternalDisk> fixFormats(DataDiskRegistry registry, List<ExternalDisk> disks, Path repository)
            throws OperatorException {
        Map<String, String> recorded = registry.formats();
        List<ExternalDisk> out = new ArrayList<>();
        for (ExternalDisk disk : disks) {
            String what = "external-disk '" + disk.name() + "'";
            String format = recorded.get(disk.id());
            if (format != null && disk.format() != null && !format.equals(disk.format())) {
                throw new RefusedException(what + ": its format is given as " + disk.format() + ", but the disk was"
                        + " first attached as " + format + " (recorded in " + registry.formatsFile() + "); a disk keeps"
                        + " its format. Remove the format option, or, if the disk really was converted, fix its line"
                        + " in that file");
            }
            try {
                if (format == null) {
                    format = disk.format() != null ? disk.format()
                            : FormatProbe.attachedFormat(disk.path(), what, repository.resolve("disk-" + disk.id()));
                    LOG.info("{} ({}) attached for the first time as {}{}", what, disk.path(), format,
                            disk.format() != null ? "" : " (probed from its header)");
                }
                if ("qcow2".equals(format)) {
                    // A backing file only into this disk's restored chain: QEMU is then given that chain
                    // as pinned nodes (KvmInstance), never the names written in the headers.
                    BackingChain.under(disk.path(), repository.resolve("disk-" + disk.id()));
                }
            } catch (UntrustedImageException e) {
                throw new UntrustedImageException((e.getMessage().startsWith(what) ? "" : what + ": ") + e.getMessage()
                        + (e.getMessage().contains("backing file") ? "; make it standalone (qemu-img convert -O qcow2)"
                                : ""));
            } catch (IOException e) {
                throw new OperationFailedException(what + ": cannot read " + disk.path() + ": " + e
                        + "; check the path and its permissions", e);
            }
            out.add(disk.withFormat(format));
        }
        return out;
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
        String what = "the image downloaded from " + ImageDownloader.redact(request.image().url());
        try {
            // Decided in Java from the header: qemu-img's probe would follow whatever the image names.
            String format = FormatProbe.standaloneFormat(staged, what);
            if ("qcow2".equals(format)) {
                AtomicFiles.forceAndMoveNew(staged, main.file());
                kept = true;
                LOG.info("main disk {} downloaded", main.file());
                return main.withFormat("qcow2");
            }
            // Persistent dirty bitmaps, hence incremental backups, need qcow2: convert once, here.
            Path converting = main.file().resolveSibling(main.file().getFileName() + ".creating");
            deleteQuietly(converting);
            LOG.info("converting the downloaded raw image to qcow2 for {}", main.file());
            try {
                qemuImg.convert(staged, "raw", converting, "qcow2");
                AtomicFiles.forceAndMoveNew(converting, main.file());
            } finally {
                deleteQuietly(converting);
            }
            LOG.info("main disk {} downloaded (raw converted to qcow2)", main.file());
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

package io.resilientkvm.engine.image;

import io.resilientkvm.engine.backup.BackupPaths;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The backing chain under a VM's qcow2 disk, walked in Java before QEMU starts, so that QEMU is
 * given each member as its own pinned node and follows no name written in an image. The only
 * chain a disk may have is an instant overlay's (after a promotion): its backing file is a backup
 * in this disk's folder of the instance's repository ({@code <repository>/<device>/<chain>/}),
 * each backup below names its predecessor in that same folder, and the full at the bottom names
 * none. Every header is read with {@link ImageInspector}: qcow2, no external data file, backing
 * format qcow2; no loop; at most {@link #MAX_DEPTH} files.
 */
public final class BackingChain {
    /** Far above any chain retention keeps; a longer one is forged or broken. */
    public static final int MAX_DEPTH = 1000;

    private BackingChain() {
    }

    /**
     * The files under {@code disk}, nearest first (the full last); empty for a standalone image.
     *
     * @param disk         the VM's qcow2 disk (an operator's file: a symbolic link to it is followed)
     * @param deviceFolder the repository folder of this disk's backups ({@code <repository>/<device>})
     * @throws UntrustedImageException a header is malformed, or names something outside the chain
     *                                 folder, in another format, or loops; nothing it named was opened
     */
    public static List<Path> under(Path disk, Path deviceFolder) throws IOException, UntrustedImageException {
        if (!Files.isRegularFile(disk)) { // follows a link; a FIFO or device is not opened
            throw ImageInspector.refused(disk, "a qcow2 disk must be a regular file (it is "
                    + (Files.isDirectory(disk) ? "a folder" : !Files.exists(disk) ? "a link to nothing"
                            : "a FIFO, socket or device") + ")");
        }
        Path top = disk.toRealPath();
        QcowHeader h = ImageInspector.readSane(top);
        if (h.backingFile() == null) {
            return List.of();
        }
        Path first = repositoryFile(disk, h, deviceFolder);
        List<Path> chain = new ArrayList<>();
        Set<Path> seen = new HashSet<>(List.of(top));
        Path current = first;
        while (true) {
            if (!seen.add(current)) {
                throw ImageInspector.refused(chain.get(chain.size() - 1), "its backing file '" + current.getFileName()
                        + "' is already in the chain (a loop)");
            }
            chain.add(current);
            if (chain.size() > MAX_DEPTH) {
                throw ImageInspector.refused(disk, "its backing chain is longer than " + MAX_DEPTH + " files");
            }
            QcowHeader m = ImageInspector.readSane(current);
            String name = m.backingFile();
            if (name == null) {
                return List.copyOf(chain);
            }
            if (!ImageInspector.isPlainName(name)) {
                throw ImageInspector.refused(current, "its backing file is '" + ImageInspector.printable(name) + "' ("
                        + ImageInspector.kind(name) + "), not a backup's plain name in the same folder");
            }
            // Checks the backing format and a loop onto itself; the name was checked just above.
            ImageInspector.inspect(current, ImageInspector.Expected.backedBy(name, -1));
            if (!BackupPaths.FILE.matcher(name).matches()) {
                throw ImageInspector.refused(current, "its backing file '" + ImageInspector.printable(name)
                        + "' is not a backup's name (FULL-… or INC-….qcow2)");
            }
            current = current.resolveSibling(name);
        }
    }

    /** The overlay's backing file: a backup of a chain folder right under {@code deviceFolder}, in qcow2. */
    private static Path repositoryFile(Path disk, QcowHeader h, Path deviceFolder) throws IOException,
            UntrustedImageException {
        String name = h.backingFile();
        String shown = "'" + ImageInspector.printable(name) + "'";
        if (ImageInspector.hasProtocol(name) || name.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw ImageInspector.refused(disk, "its backing file is " + shown + " (" + ImageInspector.kind(name)
                    + "), not a path to a backup in " + deviceFolder);
        }
        // qemu resolves a relative backing name against the image's folder, as given (not the link's target).
        Path file = disk.toAbsolutePath().getParent().resolve(name).normalize();
        Path device = deviceFolder.toAbsolutePath().normalize();
        Path chainFolder = file.getParent();
        if (chainFolder == null || !device.equals(chainFolder.getParent())
                || !BackupPaths.NAME.matcher(chainFolder.getFileName().toString()).matches()
                || !BackupPaths.FILE.matcher(file.getFileName().toString()).matches()) {
            throw ImageInspector.refused(disk, "its backing file is " + shown + ", which is not a backup in a chain folder"
                    + " of " + device + " (the only backing file a VM's disk may have is its restored chain)");
        }
        try {
            // A chain folder that is a link would lead elsewhere: the real folder must be the named one.
            Path real = chainFolder.toRealPath();
            if (!real.equals(device.toRealPath().resolve(chainFolder.getFileName()))
                    || Files.isSymbolicLink(chainFolder)) {
                throw ImageInspector.refused(disk, "its backing file " + shown + " lies in " + chainFolder
                        + ", which leads to " + real + ", outside " + device);
            }
        } catch (NoSuchFileException e) {
            throw ImageInspector.refused(disk, "its backing file " + shown + " is missing (no " + e.getFile() + ")");
        }
        if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
            throw ImageInspector.refused(disk, "its backing file " + shown + " is missing");
        }
        if (!"qcow2".equals(h.backingFormat())) {
            throw ImageInspector.refused(disk, h.backingFormat() == null
                    ? "it records no backing format, so qemu would guess the format of " + shown
                    : "its backing format is '" + ImageInspector.printable(h.backingFormat()) + "', not qcow2");
        }
        return file;
    }
}

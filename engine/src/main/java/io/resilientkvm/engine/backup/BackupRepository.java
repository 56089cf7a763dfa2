package io.resilientkvm.engine.backup;

import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Read access to a backup repository, the same layout on the main (written by the exporter)
 * and on the clones (written by the importer):
 * {@code <root>/<device>/<chain>/FULL-<time>.qcow2}, then {@code INC-<time>.qcow2} files backed
 * by their predecessor through a relative name, each with its manifest {@code <file>.json}.
 * Only backups with a manifest are listed: the manifest is written last and marks a backup
 * complete. Times are UTC {@code yyyyMMdd'T'HHmmss.SSS'Z'}, so they sort as text.
 */
public final class BackupRepository {
    /** Suffix of a backup file being written. */
    public static final String PARTIAL = ".partial";
    /** Marker in a chain folder that forbids adding to it; holds the reason. */
    public static final String CLOSED_MARKER = "CLOSED";
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'")
            .withZone(ZoneOffset.UTC);

    private final Path root;

    public BackupRepository(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    public Path root() {
        return root;
    }

    /** The time stamp used in file and chain names. */
    public static String stamp(Instant t) {
        return TIME.format(t);
    }

    /** The disks that have a folder here. */
    public List<String> devices() throws IOException {
        return subfolders(root).stream().map(p -> p.getFileName().toString()).toList();
    }

    /** The chains of a disk, oldest first; none when the disk has no folder. */
    public List<Chain> chains(String device) throws IOException, BadInputException {
        List<Chain> chains = new ArrayList<>();
        for (Path dir : subfolders(root.resolve(device))) {
            chains.add(readChain(device, dir));
        }
        return chains;
    }

    /** The newest chain of a disk (the one new incrementals go to, if it is open). */
    public Optional<Chain> newestChain(String device) throws IOException, BadInputException {
        List<Chain> chains = chains(device);
        return chains.isEmpty() ? Optional.empty() : Optional.of(chains.get(chains.size() - 1));
    }

    /** The newest complete backup of a disk. */
    public Optional<BackupManifest> newestBackup(String device) throws IOException, BadInputException {
        // Newest chain first, each read only when the newer ones are empty: a long history costs nothing here.
        List<Path> dirs = subfolders(root.resolve(device));
        for (int i = dirs.size() - 1; i >= 0; i--) {
            Optional<BackupManifest> newest = readChain(device, dirs.get(i)).newest();
            if (newest.isPresent()) {
                return newest;
            }
        }
        return Optional.empty();
    }

    /** The newest complete backup of each disk that has one, in disk order. */
    public List<BackupManifest> newestBackups() throws IOException, BadInputException {
        List<BackupManifest> newest = new ArrayList<>();
        for (String device : devices()) {
            newestBackup(device).ifPresent(newest::add);
        }
        return newest;
    }

    private static Chain readChain(String device, Path dir) throws IOException, BadInputException {
        List<BackupManifest> backups = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".qcow2" + BackupManifest.SUFFIX))
                    .sorted().toList()) {
                backups.add(BackupManifest.read(f));
            }
        }
        backups.sort(Comparator.comparingInt(BackupManifest::sequence));
        Path marker = dir.resolve(CLOSED_MARKER);
        String closed = Files.exists(marker) ? Files.readString(marker).strip() : null;
        return new Chain(device, dir.getFileName().toString(), dir, backups, closed);
    }

    /** The visible subfolders of {@code dir}, sorted; none when it does not exist. */
    public static List<Path> subfolders(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).filter(p -> !p.getFileName().toString().startsWith("."))
                    .sorted().toList();
        }
    }
}

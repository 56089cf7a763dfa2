package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** Which disk and which kept backup a restore reads: the disk by name (or the only one), the point by name or time. */
final class RestorePoints {
    static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'")
            .withZone(ZoneOffset.UTC);
    /** A backup named without its {@code .qcow2}, alone or as {@code <chain>/<file>}. */
    private static final Pattern FILE_WITHOUT_SUFFIX = Pattern.compile("(?:[^/]+/)?(?:FULL|INC)-[0-9]{8}T[0-9]{6}\\.[0-9]{3}Z");

    private final BackupRepository repository;

    RestorePoints(BackupRepository repository) {
        this.repository = repository;
    }

    /** The disk to restore: {@code device} if given and present, else the only one. */
    String device(Optional<String> device) throws IOException, BadInputException {
        List<String> devices = devices();
        if (devices.isEmpty()) {
            throw new RestoreInputException(new RestoreProblem.NoDisk(repository.root()));
        }
        if (device.isPresent()) {
            if (!devices.contains(device.get())) {
                throw new RestoreInputException(new RestoreProblem.UnknownDevice(device.get(), repository.root(),
                        devices));
            }
            return device.get();
        }
        if (devices.size() > 1) {
            throw new RestoreInputException(new RestoreProblem.DeviceNotChosen(repository.root(), devices));
        }
        return devices.get(0);
    }

    /** The disks of the repository, after checking that it is one (not the folder of a disk or of a chain). */
    List<String> devices() throws IOException, BadInputException {
        requireRepository();
        requireRepositoryRoot();
        return repository.devices();
    }

    /**
     * Refuses a disk folder or a chain folder given as the repository (as the seed's tools take the
     * folder of one disk): listed as disks, its chains would read as disks without backups.
     */
    private void requireRepositoryRoot() throws IOException, BadInputException {
        Path root = repository.root();
        if (holdsBackupFiles(root) && root.getParent() != null && root.getParent().getParent() != null) {
            Path deviceDir = root.getParent();
            throw new RestoreInputException(new RestoreProblem.NotRepositoryRoot(root, deviceDir.getParent(),
                    deviceDir.getFileName().toString(), Optional.of(root.getFileName().toString())));
        }
        for (Path sub : BackupRepository.subfolders(root)) {
            if (holdsBackupFiles(sub) && root.getParent() != null) {
                throw new RestoreInputException(new RestoreProblem.NotRepositoryRoot(root, root.getParent(),
                        root.getFileName().toString(), Optional.empty()));
            }
        }
    }

    private static boolean holdsBackupFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.anyMatch(f -> BackupPaths.FILE.matcher(f.getFileName().toString()).matches() && Files.isRegularFile(f));
        }
    }

    void requireRepository() throws BadInputException {
        if (!Files.isDirectory(repository.root())) {
            throw new RestoreInputException(new RestoreProblem.NotARepository(repository.root()));
        }
    }

    /** Every complete backup of the disk, oldest first. */
    List<RestorePoint> points(String device) throws IOException, BadInputException {
        List<RestorePoint> points = new ArrayList<>();
        for (Chain chain : repository.chains(device)) {
            for (BackupManifest b : chain.backups()) {
                points.add(new RestorePoint(chain, b));
            }
        }
        return points;
    }

    /** The point {@code until} names (see {@link RestoreRequest#until()}), or the newest backup. */
    RestorePoint choose(String device, Optional<String> until) throws IOException, BadInputException {
        List<RestorePoint> points = points(device);
        if (points.isEmpty()) {
            requireRepositoryRoot(); // a disk or chain folder given as the repository: say so, not "no backup"
            throw new BadInputException(repository.root().resolve(device) + ": no complete backup of " + device
                    + " (a backup is complete once its manifest exists)");
        }
        if (until.isEmpty()) {
            return points.get(points.size() - 1);
        }
        String u = until.get().strip();
        // qmprestore users name a backup by its file without .qcow2 (INC-<time>, FULL-<time>).
        String file = FILE_WITHOUT_SUFFIX.matcher(u).matches() ? u + ".qcow2" : u;
        for (RestorePoint p : points) {
            if (p.name().equals(file) || p.backup().file().equals(file)) {
                return p;
            }
        }
        RestorePoint newestOfChain = null;
        for (RestorePoint p : points) {
            if (p.chain().chainId().equals(u)) {
                newestOfChain = p;
            }
        }
        if (newestOfChain != null) {
            return newestOfChain;
        }
        Optional<Instant> time = parseTime(u);
        if (time.isEmpty()) {
            throw new RestoreInputException(new RestoreProblem.UnknownPoint(device, u));
        }
        RestorePoint chosen = null;
        for (RestorePoint p : points) {
            if (!p.time().isAfter(time.get())) {
                chosen = p;
            }
        }
        if (chosen == null) {
            throw new RestoreInputException(new RestoreProblem.NothingAtOrBefore(device, u, time.get(),
                    points.get(0).name(), points.get(0).time()));
        }
        return chosen;
    }

    /** An ISO-8601 instant, offset date-time, local date-time (UTC) or repository stamp. */
    static Optional<Instant> parseTime(String text) {
        try {
            return Optional.of(Instant.parse(text));
        } catch (DateTimeParseException e) {
            // try the next form
        }
        try {
            return Optional.of(OffsetDateTime.parse(text).toInstant());
        } catch (DateTimeParseException e) {
            // try the next form
        }
        try {
            return Optional.of(LocalDateTime.parse(text).toInstant(ZoneOffset.UTC));
        } catch (DateTimeParseException e) {
            // try the next form
        }
        try {
            return Optional.of(Instant.from(STAMP.parse(text)));
        } catch (DateTimeParseException e) {
            return Optional.empty();
        }
    }
}

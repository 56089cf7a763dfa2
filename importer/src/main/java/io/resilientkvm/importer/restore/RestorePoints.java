package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Which disk and which kept backup a restore reads: the disk by name (or the only one), the point by name or time. */
final class RestorePoints {
    static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'")
            .withZone(ZoneOffset.UTC);

    private final BackupRepository repository;

    RestorePoints(BackupRepository repository) {
        this.repository = repository;
    }

    /** The disk to restore: {@code device} if given and present, else the only one. */
    String device(Optional<String> device) throws IOException, BadInputException {
        requireRepository();
        List<String> devices = repository.devices();
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
            throw new BadInputException(repository.root().resolve(device) + ": no complete backup of " + device
                    + " (a backup is complete once its manifest exists)");
        }
        if (until.isEmpty()) {
            return points.get(points.size() - 1);
        }
        String u = until.get().strip();
        for (RestorePoint p : points) {
            if (p.name().equals(u) || p.backup().file().equals(u)) {
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

package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The holds of a repository: {@code <root>/.holds/<id>.json}, one per instant-restore overlay.
 * The pruner never removes a held chain. A hold file that cannot be read counts as holding
 * nothing known, so {@link #list()} reports it as bad input rather than guessing.
 */
public final class Holds {
    /** The folder of hold files in the repository root (hidden from the chain listing). */
    public static final String FOLDER = ".holds";

    private final Path dir;

    public Holds(Path repositoryRoot) {
        this.dir = repositoryRoot.toAbsolutePath().normalize().resolve(FOLDER);
    }

    public Path dir() {
        return dir;
    }

    /** Every hold, oldest first. An unreadable hold file is bad input naming the file. */
    public List<Hold> list() throws IOException, BadInputException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Hold> holds = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList()) {
                try {
                    holds.add(Hold.parse(Files.readString(f, StandardCharsets.UTF_8), f.toString()));
                } catch (BadInputException e) {
                    problems.addAll(e.problems());
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
        holds.sort(Comparator.comparing(Hold::createdAt).thenComparing(Hold::id));
        return holds;
    }

    /** The holds on one disk's chains. */
    public List<Hold> of(String device) throws IOException, BadInputException {
        return list().stream().filter(h -> h.device().equals(device)).toList();
    }

    /** Writes a hold durably (tmp, fsync, rename, folder fsync); refuses an id already used. */
    public void add(Hold hold) throws OperationFailedException {
        try {
            AtomicFiles.createDirectories(dir);
            Path file = fileOf(hold.id());
            if (Files.exists(file)) {
                throw new OperationFailedException("hold " + file + " already exists; pick another id");
            }
            AtomicFiles.writeAtomically(file, hold.toJson());
        } catch (IOException e) {
            throw new OperationFailedException("cannot write hold " + hold.id() + " in " + dir + ": " + e.getMessage()
                    + "; check that the repository is writable", e);
        }
    }

    /** Finds a hold by its id or by its overlay's path. */
    public Optional<Hold> find(String idOrOverlay) throws IOException, BadInputException {
        Path overlay = Path.of(idOrOverlay).toAbsolutePath().normalize();
        for (Hold h : list()) {
            if (h.id().equals(idOrOverlay) || h.overlay().equals(overlay)) {
                return Optional.of(h);
            }
        }
        return Optional.empty();
    }

    /** Deletes a hold's file (fsyncing the folder); the chain may be pruned afterwards. */
    public void remove(Hold hold) throws OperationFailedException {
        try {
            Files.deleteIfExists(fileOf(hold.id()));
            AtomicFiles.syncDirectory(dir);
        } catch (IOException e) {
            throw new OperationFailedException("cannot remove hold " + fileOf(hold.id()) + ": " + e.getMessage(), e);
        }
    }

    private Path fileOf(String id) {
        return dir.resolve(id + ".json");
    }
}

package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.RefusedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a restore writes: a regular file outside the repository, never replaced unless asked,
 * written as {@code FILE.partial} and published durably ({@link AtomicFiles}).
 */
final class RestoreOutput {
    private RestoreOutput() {
    }

    /** The absolute output, once it may be written. */
    static Path check(RestoreRequest request, Path repositoryRoot) throws BadInputException, RefusedException {
        Path output = request.output().toAbsolutePath().normalize();
        Path parent = output.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new RestoreInputException(new RestoreProblem.OutputFolderMissing(output, parent));
        }
        if (output.startsWith(repositoryRoot)) {
            throw new RestoreInputException(new RestoreProblem.OutputInRepository(output, repositoryRoot));
        }
        if (Files.isDirectory(output)) {
            throw new RestoreInputException(new RestoreProblem.OutputIsFolder(output));
        }
        if (Files.exists(output) && !Files.isRegularFile(output)) {
            throw new RestoreInputException(new RestoreProblem.OutputNotRegularFile(output));
        }
        if (Files.exists(output) && !request.force()) {
            throw new RestoreRefusedException(new RestoreProblem.OutputExists(output));
        }
        return output;
    }

    /** The file written before publication; any left from a crash is removed first. */
    static Path partial(Path output) throws IOException {
        Path partial = output.resolveSibling(output.getFileName() + ".partial");
        Files.deleteIfExists(partial);
        return partial;
    }

    /** fsync, rename over the output (replacing it when forced), fsync of the folder. */
    static void publish(Path partial, Path output) throws IOException {
        AtomicFiles.forceAndRename(partial, output);
    }
}

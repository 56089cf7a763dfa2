package io.resilientkvm.engine.secret;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Files made in memory, then written into a new folder all at once: every folder 0700, every file
 * 0600 from its creation (never readable by others, not even for a moment). They are written into
 * a hidden folder beside the target, fsynced, and that folder is renamed onto the target, which
 * must be missing or empty: a failure leaves nothing behind, and an existing file is never replaced.
 */
final class SecretTree {
    private static final Logger LOG = LoggerFactory.getLogger(SecretTree.class);
    static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
    static final Set<PosixFilePermission> FOLDER_MODE = PosixFilePermissions.fromString("rwx------");

    private final Map<String, byte[]> files = new LinkedHashMap<>();

    /** Adds the file {@code relative} (folders separated by '/'); each path once. */
    void add(String relative, byte[] content) {
        if (relative.startsWith("/") || List.of(relative.split("/")).contains("..")
                || files.putIfAbsent(relative, content.clone()) != null) {
            throw new IllegalArgumentException("bad or repeated path in the secrets: " + relative);
        }
    }

    void add(String relative, String text) {
        add(relative, text.getBytes(StandardCharsets.UTF_8));
    }

    /** A one-line secret file (password, token) with its newline. */
    void addLine(String relative, String secret) {
        add(relative, secret + "\n");
    }

    /** The files' relative paths, in the order they were added. */
    Set<String> paths() {
        return Collections.unmodifiableSet(files.keySet());
    }

    byte[] content(String relative) {
        return files.get(relative).clone();
    }

    /**
     * Refuses an output that exists and is not an empty folder, naming what to do. Called before
     * anything is generated, so a refusal costs nothing and writes nothing.
     */
    static void requireNewOrEmpty(Path out, String option) throws BadInputException {
        if (!Files.exists(out, LinkOption.NOFOLLOW_LINKS)) {
            if (out.toAbsolutePath().getParent() != null && !Files.isDirectory(out.toAbsolutePath().getParent())) {
                throw new BadInputException(option + " " + out + ": its parent folder does not exist; create it or give another path");
            }
            return;
        }
        if (!Files.isDirectory(out, LinkOption.NOFOLLOW_LINKS)) {
            throw new BadInputException(option + " " + out + ": exists and is not a folder; give a new or empty folder");
        }
        try (Stream<Path> entries = Files.list(out)) {
            if (entries.findAny().isPresent()) {
                throw new BadInputException(option + " " + out + ": the folder is not empty; secrets are never written over"
                        + " existing files: give a new or empty folder (and keep the old secrets if they are in use)");
            }
        } catch (IOException e) {
            throw new BadInputException(option + " " + out + ": cannot list the folder (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Writes every file under {@code out} (missing or an empty folder), which ends up mode 0700.
     *
     * @throws BadInputException when {@code out} is not (or no longer) missing or empty
     * @throws OperationFailedException when writing fails (nothing is left behind)
     */
    void writeNew(Path out, String option, SecureRandom random) throws BadInputException, OperationFailedException {
        requireNewOrEmpty(out, option);
        Path target = out.toAbsolutePath().normalize();
        Path staging = target.resolveSibling("." + target.getFileName() + ".partial-" + HexFormat.of().formatHex(nonce(random)));
        try {
            Files.createDirectory(staging, PosixFilePermissions.asFileAttribute(FOLDER_MODE));
            Files.setPosixFilePermissions(staging, FOLDER_MODE);
            for (Map.Entry<String, byte[]> f : files.entrySet()) {
                Path file = staging.resolve(f.getKey());
                createFolders(staging, file.getParent());
                write(file, f.getValue());
            }
            syncFolders(staging);
        } catch (IOException e) {
            deleteTree(staging);
            throw new OperationFailedException("cannot write the secrets into " + staging + ": " + e.getMessage()
                    + "; nothing was written to " + out, e);
        }
        try {
            // rename(2) onto a missing or empty folder is atomic; onto a folder that has since got entries it fails.
            AtomicFiles.renameDurably(staging, target);
        } catch (IOException e) {
            deleteTree(staging);
            throw new BadInputException(option + " " + out + ": cannot move the secrets in (" + e.getMessage()
                    + "); give a new or empty folder on the same file system as its parent", e);
        }
    }

    private static byte[] nonce(SecureRandom random) {
        byte[] b = new byte[6];
        random.nextBytes(b);
        return b;
    }

    private static void createFolders(Path root, Path dir) throws IOException {
        if (dir.equals(root) || Files.isDirectory(dir)) {
            return;
        }
        createFolders(root, dir.getParent());
        // The attribute passes through the umask, which may only take bits away from 0700: the mode is exact.
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(FOLDER_MODE));
        Files.setPosixFilePermissions(dir, FOLDER_MODE);
    }

    private static void write(Path file, byte[] content) throws IOException {
        FileAttribute<Set<PosixFilePermission>> mode = PosixFilePermissions.asFileAttribute(FILE_MODE);
        try (FileChannel ch = FileChannel.open(file, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), mode)) {
            ByteBuffer buffer = ByteBuffer.wrap(content);
            while (buffer.hasRemaining()) {
                ch.write(buffer);
            }
            ch.force(true);
        }
        Files.setPosixFilePermissions(file, FILE_MODE);
    }

    private static void syncFolders(Path root) throws IOException {
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : (Iterable<Path>) all.filter(Files::isDirectory)::iterator) {
                AtomicFiles.syncDirectory(p);
            }
        }
    }

    /** Removes the staging folder this writer made (and only it), after a failure. */
    private static void deleteTree(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try {
            Files.walkFileTree(root, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path dir, IOException exc) throws IOException {
                    Files.delete(dir);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            LOG.warn("could not remove the partial secrets in {}: {}; delete it",
                    root, e.getMessage());
        }
    }
}

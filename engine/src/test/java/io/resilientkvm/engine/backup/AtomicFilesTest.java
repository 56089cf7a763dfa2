package io.resilientkvm.engine.backup;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Durable writes on the real file system: what each operation leaves, and which fsync failures count. */
class AtomicFilesTest {
    @TempDir
    Path dir;

    @Test
    void writeAtomicallyReplacesTheWholeFileAndLeavesNoTemporary() throws Exception {
        Path file = dir.resolve("state.json");
        AtomicFiles.writeAtomically(file, "first\n");
        AtomicFiles.writeAtomically(file, "second, longer than the first\n");
        assertEquals("second, longer than the first\n", Files.readString(file));
        assertEquals(List.of(file), list(dir), "no .tmp left beside it");
    }

    @Test
    void writeAtomicallyWithPermissionsNeverLetsTheFileExistWithOthers() throws Exception {
        Path secret = dir.resolve("vnc.passwd");
        // A stale temporary with loose permissions (a crashed write) must not be reused.
        Files.writeString(dir.resolve("vnc.passwd" + AtomicFiles.TMP_SUFFIX), "stale");
        Files.setPosixFilePermissions(dir.resolve("vnc.passwd" + AtomicFiles.TMP_SUFFIX),
                PosixFilePermissions.fromString("rw-rw-rw-"));
        AtomicFiles.writeAtomically(secret, new byte[] {'p', 'w'},
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        assertArrayEquals(new byte[] {'p', 'w'}, Files.readAllBytes(secret));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(secret)));
        assertEquals(List.of(secret), list(dir));
    }

    @Test
    void writeAtomicallyIntoAMissingFolderFailsAndLeavesNothing() {
        Path file = dir.resolve("missing/state.json");
        assertThrows(NoSuchFileException.class, () -> AtomicFiles.writeAtomically(file, "x"));
        assertFalse(Files.exists(dir.resolve("missing")));
    }

    @Test
    void forceAndRenamePublishesACompletedFileOverTheOldOne() throws Exception {
        Path partial = Files.writeString(dir.resolve("disk.qcow2.partial"), "new image");
        Path target = Files.writeString(dir.resolve("disk.qcow2"), "old image");
        AtomicFiles.forceAndRename(partial, target);
        assertEquals("new image", Files.readString(target));
        assertEquals(List.of(target), list(dir));
    }

    @Test
    void forceAndMoveNewNeverOverwritesAndKeepsTheSource() throws Exception {
        Path made = Files.writeString(dir.resolve("disk.qcow2.creating"), "made");
        Path disk = Files.writeString(dir.resolve("disk.qcow2"), "precious");
        assertThrows(FileAlreadyExistsException.class, () -> AtomicFiles.forceAndMoveNew(made, disk));
        assertEquals("precious", Files.readString(disk));
        assertEquals("made", Files.readString(made));

        Path other = dir.resolve("other.qcow2");
        AtomicFiles.forceAndMoveNew(made, other);
        assertEquals("made", Files.readString(other));
        assertFalse(Files.exists(made));
    }

    @Test
    void renameDurablyMovesAFolder() throws Exception {
        Path chain = Files.createDirectories(dir.resolve("vda/20261120T100000.000Z"));
        Files.writeString(chain.resolve("FULL.qcow2"), "x");
        Path hidden = chain.resolveSibling(".removing-20261120T100000.000Z");
        AtomicFiles.renameDurably(chain, hidden);
        assertFalse(Files.exists(chain));
        assertEquals("x", Files.readString(hidden.resolve("FULL.qcow2")));
    }

    @Test
    void createDirectoriesMakesEveryMissingLevelAndAcceptsAnExistingOne() throws Exception {
        Path deep = dir.resolve("a/b/c");
        assertEquals(deep, AtomicFiles.createDirectories(deep));
        assertTrue(Files.isDirectory(deep));
        assertEquals(deep, AtomicFiles.createDirectories(deep));
        Path file = Files.writeString(dir.resolve("a/file"), "x");
        assertThrows(FileSystemException.class, () -> AtomicFiles.createDirectories(file.resolve("d")), "a file in the way");
    }

    @Test
    void syncDirectoryWorksOnARealFolderAndFailsOnAMissingOne() throws Exception {
        AtomicFiles.syncDirectory(dir);
        assertThrows(NoSuchFileException.class, () -> AtomicFiles.syncDirectory(dir.resolve("gone")));
    }

    @Test
    void aFileSystemThatCannotSyncAFolderIsTolerated() throws Exception {
        // procfs answers fsync(2) of a folder with EINVAL: a real file system that cannot sync one.
        AtomicFiles.syncDirectory(Path.of("/proc/self"));
    }

    @Test
    void onlyNotSupportedCountsAsNotSupportedNeverAnIoError() {
        assertTrue(AtomicFiles.isUnsupported(new IOException("Invalid argument")));
        assertTrue(AtomicFiles.isUnsupported(new IOException("Operation not supported")));
        assertFalse(AtomicFiles.isUnsupported(new IOException("Input/output error")), "EIO: the entry may be lost");
        assertFalse(AtomicFiles.isUnsupported(new IOException("No space left on device")));
        assertFalse(AtomicFiles.isUnsupported(new IOException("Read-only file system")));
        assertFalse(AtomicFiles.isUnsupported(new IOException((String) null)));
    }

    private static List<Path> list(Path folder) throws IOException {
        try (var s = Files.list(folder)) {
            return s.sorted().toList();
        }
    }
}

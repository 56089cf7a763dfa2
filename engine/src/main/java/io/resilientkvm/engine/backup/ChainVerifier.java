package io.resilientkvm.engine.backup;

import io.resilientkvm.engine.backup.BackupManifest.Level;
import io.resilientkvm.engine.disk.CheckResult;
import io.resilientkvm.engine.disk.ImageInfo;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.image.ImageInspector;
import io.resilientkvm.engine.image.ImageInspector.Expected;
import io.resilientkvm.engine.image.TrustedChain;
import io.resilientkvm.engine.image.UntrustedImageException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Checks a chain end to end: every file has its manifest's size and SHA-256, a sane qcow2 header
 * read in Java ({@link ImageInspector}: no external data file, backing format qcow2) that names
 * exactly its predecessor (relative name, sequence without gaps, same bitmap and chain), the full
 * nothing, and passes {@code qemu-img check} of the file alone. qemu-img runs only on files whose
 * header passed, with the format given and no backing file opened.
 */
public final class ChainVerifier {
    /** Checking a large file on a busy host can take a while. */
    private static final QemuImg QEMU_IMG = new QemuImg("qemu-img", Duration.ofMinutes(10));

    private ChainVerifier() {
    }

    /** Verifies every backup of the chain; never throws for a damaged chain, reports instead. */
    public static VerifyReport verify(Chain chain) throws IOException {
        return verify(chain, true);
    }

    /**
     * As {@link #verify(Chain)} but without reading the files' data for SHA-256: structure,
     * sizes, {@code qemu-img check} and backing names only, in milliseconds whatever the size.
     * For callers that need an answer at once (an instant restore) on files that were hashed
     * when they arrived.
     */
    public static VerifyReport verifyWithoutHashes(Chain chain) throws IOException {
        return verify(chain, false);
    }

    private static VerifyReport verify(Chain chain, boolean hashes) throws IOException {
        List<String> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        List<BackupManifest> backups = chain.backups();
        if (backups.isEmpty()) {
            problems.add(chain.dir() + ": no complete backup in this chain");
        }
        for (int i = 0; i < backups.size(); i++) {
            check(chain, i, hashes, problems, warnings, new ArrayList<>());
        }
        return new VerifyReport(chain, problems, warnings);
    }

    /**
     * The chain's files as a {@link TrustedChain}, for qemu-img to open as a chain: every header
     * is read and checked in Java first (milliseconds; the data are not read).
     *
     * @throws UntrustedImageException the first file that is not what it must be; nothing was opened
     */
    public static TrustedChain trusted(Chain chain) throws IOException, UntrustedImageException {
        List<Path> files = new ArrayList<>();
        chain.backups().forEach(b -> files.add(chain.file(b)));
        long size = chain.backups().isEmpty() ? -1 : chain.backups().get(0).virtualSize();
        return TrustedChain.verify(files, size);
    }

    /**
     * Verifies only the newest backup of the chain and its link to its parent: what a clone
     * does after each import. {@code hashChecked} skips re-reading the file when its SHA-256
     * was just computed while it was written.
     *
     * @throws OperationFailedException qemu-img could not run (a timeout, say): nothing is known
     *                                  about the image, which is not the same as a broken one
     */
    public static VerifyReport verifyNewest(Chain chain, boolean hashChecked) throws IOException,
            OperationFailedException {
        List<String> problems = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        List<OperationFailedException> toolFailures = new ArrayList<>();
        if (chain.backups().isEmpty()) {
            problems.add(chain.dir() + ": no complete backup in this chain");
        } else {
            check(chain, chain.backups().size() - 1, !hashChecked, problems, warnings, toolFailures);
        }
        if (!toolFailures.isEmpty()) {
            throw toolFailures.get(0);
        }
        return new VerifyReport(chain, problems, warnings);
    }

    private static void check(Chain chain, int i, boolean hash, List<String> problems, List<String> warnings,
            List<OperationFailedException> toolFailures) throws IOException {
        List<BackupManifest> backups = chain.backups();
        BackupManifest m = backups.get(i);
        Path file = chain.file(m);
        String where = file.toString();
        if (m.sequence() != i) {
            problems.add(where + ": sequence " + m.sequence() + ", expected " + i + " (a backup is missing)");
        }
        if (!m.chainId().equals(chain.chainId()) || !m.device().equals(chain.device())) {
            problems.add(where + ": manifest names chain " + m.device() + "/" + m.chainId()
                    + " but lies in " + chain.device() + "/" + chain.chainId());
        }
        if ((i == 0) != (m.level() == Level.FULL)) {
            problems.add(where + ": level " + m.level() + " at sequence " + i);
        }
        String expectedParent = i == 0 ? null : backups.get(i - 1).file();
        if (!Objects.equals(m.parent(), expectedParent)) {
            problems.add(where + ": manifest parent " + m.parent() + ", expected " + expectedParent);
        }
        if (i > 0 && !m.bitmap().equals(backups.get(0).bitmap())) {
            problems.add(where + ": bitmap " + m.bitmap() + " differs from the chain's " + backups.get(0).bitmap());
        }
        if (!Files.isRegularFile(file)) {
            problems.add(where + ": file is missing");
            return;
        }
        long size = Files.size(file);
        if (size != m.fileSize()) {
            problems.add(where + ": size " + size + " bytes, manifest says " + m.fileSize());
            return;
        }
        String sha = hash ? Sha256.of(file) : m.sha256();
        if (!sha.equals(m.sha256())) {
            problems.add(where + ": SHA-256 " + sha + " does not match the manifest's " + m.sha256());
            return;
        }
        try {
            // Before qemu-img sees the file: it would follow a backing name or data file as written.
            ImageInspector.inspect(file, expectedParent == null ? Expected.standalone(m.virtualSize())
                    : Expected.backedBy(expectedParent, m.virtualSize()));
        } catch (UntrustedImageException e) {
            problems.add(e.getMessage());
            return;
        }
        CheckResult check;
        ImageInfo info;
        try {
            // Each file alone (no backing opened): its predecessor is checked in its own turn.
            check = QEMU_IMG.checkAlone(file);
            info = QEMU_IMG.infoAlone(file);
        } catch (OperationFailedException e) {
            toolFailures.add(e);
            problems.add(where + ": " + e.getMessage());
            return;
        }
        if (check.status() == CheckResult.Status.LEAKS) {
            warnings.add(where + ": qemu-img check found leaked clusters (harmless): " + check.output());
        } else if (check.status() != CheckResult.Status.OK) {
            problems.add(where + ": qemu-img check failed (" + check.status() + "): " + check.output());
        }
        String backing = info.backingFile();
        if (!Objects.equals(backing, expectedParent)) {
            problems.add(where + ": backing file is " + backing + ", expected " + expectedParent);
        }
        if (info.virtualSize() != m.virtualSize()) {
            problems.add(where + ": virtual size " + info.virtualSize() + ", manifest says " + m.virtualSize());
        }
    }
}

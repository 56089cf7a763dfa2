package io.resilientkvm.engine.disk;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.error.RefusedException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Remembers which external disks an instance was provisioned with, and refuses a configuration that
 * disagrees: adding, removing, renaming or reordering data disks would attach a different disk at a
 * position the guest already uses, and the guest could then format or mount the wrong data.
 *
 * <p>After a successful provisioning, {@code <instanceDir>/etc/.data-disk-amount} holds the number of
 * external disks and {@code <instanceDir>/etc/.data-disk-ids} their ids, one per line, in attachment
 * order. Both are written atomically (temporary file, fsync, rename). The check only reads.
 */
public final class DataDiskRegistry {
    static final String AMOUNT_FILE = ".data-disk-amount";
    static final String IDS_FILE = ".data-disk-ids";
    static final String FORMATS_FILE = ".data-disk-formats";

    private final Path etc;

    public DataDiskRegistry(Path instanceDir) {
        this.etc = Objects.requireNonNull(instanceDir, "instanceDir").resolve("etc");
    }

    public Path amountFile() {
        return etc.resolve(AMOUNT_FILE);
    }

    public Path idsFile() {
        return etc.resolve(IDS_FILE);
    }

    /** {@code etc/.data-disk-formats}: "ID FORMAT" per line, each external disk's format as fixed at first attach. */
    public Path formatsFile() {
        return etc.resolve(FORMATS_FILE);
    }

    /** The formats recorded at first attach, by disk id (empty before the first). */
    public Map<String, String> formats() throws OperationFailedException {
        Map<String, String> out = new LinkedHashMap<>();
        Path file = formatsFile();
        if (!Files.exists(file)) {
            return out;
        }
        for (String line : read(file).lines().map(String::strip).filter(l -> !l.isEmpty()).toList()) {
            int space = line.lastIndexOf(' ');
            if (space <= 0) {
                throw new OperationFailedException("the line '" + line + "' of " + file + " is not 'ID FORMAT': the"
                        + " file is damaged; fix the line (the disk's format, e.g. raw) or remove it to probe the disk again");
            }
            out.put(line.substring(0, space).strip(), line.substring(space + 1));
        }
        return out;
    }

    /** Records the external disks' formats (ids are QEMU ids: no spaces), durably. */
    public void recordFormats(Map<String, String> formats) throws OperationFailedException {
        StringBuilder lines = new StringBuilder();
        formats.forEach((id, format) -> lines.append(id).append(' ').append(format).append('\n'));
        try {
            AtomicFiles.createDirectories(etc);
            AtomicFiles.writeAtomically(formatsFile(), lines.toString());
        } catch (IOException e) {
            throw new OperationFailedException("cannot record the external disks' formats in " + formatsFile() + ": " + e
                    + "; check that the directory is writable and not full, then retry", e);
        }
    }

    /**
     * Refuses, listing every conflict at once, when the requested external disks disagree with the
     * recorded ones. Nothing is recorded yet (a new instance) means no conflict.
     *
     * @param requestedIds      the ids of the requested external disks, in attachment order
     * @param modernGiven       whether the {@code external-disk} map is given
     * @param legacyDiskNumber  the {@code external-disk-number} parameter
     */
    public void check(List<String> requestedIds, boolean modernGiven, int legacyDiskNumber)
            throws RefusedException, OperationFailedException {
        List<String> conflicts = new ArrayList<>();
        if (modernGiven && legacyDiskNumber > 0) {
            conflicts.add("external-disk and external-disk-number " + legacyDiskNumber
                    + " are both given: use only one of them (external-disk for new instances)");
        }
        Path amountFile = amountFile();
        Path idsFile = idsFile();
        if (Files.exists(amountFile)) {
            String text = read(amountFile).strip();
            int recorded;
            try {
                recorded = Integer.parseInt(text);
            } catch (NumberFormatException e) {
                recorded = -1;
                conflicts.add("the recorded disk amount '" + text + "' in " + amountFile
                        + " is not an integer: the file is damaged; check the disks and rewrite it");
            }
            if (recorded >= 0 && recorded != requestedIds.size()) {
                conflicts.add("the requested " + requestedIds.size() + " external disk(s) conflict with already"
                        + " configured disks amount " + recorded + " in " + amountFile);
            }
        }
        if (Files.exists(idsFile)) {
            List<String> recorded = read(idsFile).lines().map(String::strip).filter(line -> !line.isEmpty()).toList();
            if (!recorded.equals(requestedIds)) {
                conflicts.add(describeIdChange(recorded, requestedIds, idsFile));
            }
        }
        if (!conflicts.isEmpty()) {
            StringBuilder message = new StringBuilder("refusing to provision disks: the external disk configuration"
                    + " conflicts with the disks this instance already uses:");
            conflicts.forEach(conflict -> message.append(System.lineSeparator()).append("  - ").append(conflict));
            message.append(System.lineSeparator()).append("Attaching a different set of disks could make the guest"
                    + " use the wrong data. Restore the previous configuration; or, if this change is intended, remove ")
                    .append(amountFile).append(" and ").append(idsFile)
                    .append(" after checking the disk paths (and the lines of disks you replaced in ").append(formatsFile())
                    .append(", which keeps each disk's format), and provision again.");
            throw new RefusedException(message.toString());
        }
    }

    /**
     * Records the external disks after a successful provisioning. The two files are replaced one after
     * the other; a crash in between leaves them disagreeing with the request, which errs on the side of
     * refusing.
     */
    public void record(List<String> ids) throws OperationFailedException {
        try {
            AtomicFiles.createDirectories(etc);
            AtomicFiles.writeAtomically(amountFile(), ids.size() + "\n");
            StringBuilder lines = new StringBuilder();
            ids.forEach(id -> lines.append(id).append('\n'));
            AtomicFiles.writeAtomically(idsFile(), lines.toString());
        } catch (IOException e) {
            throw new OperationFailedException("cannot record the external disks in " + etc + ": " + e
                    + "; check that the directory is writable and not full, then retry", e);
        }
    }

    private static String describeIdChange(List<String> recorded, List<String> requested, Path idsFile) {
        List<String> removed = recorded.stream().filter(id -> !requested.contains(id)).toList();
        List<String> added = requested.stream().filter(id -> !recorded.contains(id)).toList();
        StringBuilder text = new StringBuilder("the requested external disk ids " + requested
                + " conflict with the already configured ids " + recorded + " in " + idsFile);
        List<String> details = new ArrayList<>();
        if (!removed.isEmpty()) {
            details.add("missing or renamed: " + removed);
        }
        if (!added.isEmpty()) {
            details.add("new: " + added);
        }
        if (removed.isEmpty() && added.isEmpty()) {
            details.add("same ids in a different order");
        }
        return text.append(" (").append(String.join("; ", details)).append(')').toString();
    }

    private static String read(Path file) throws OperationFailedException {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new OperationFailedException("cannot read " + file + ": " + e + "; check its permissions", e);
        }
    }

}

package io.resilientkvm.drill.guest;

import io.resilientkvm.engine.error.OperationFailedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A guest disk read from the host, without booting it: converted to a raw copy
 * ({@code qemu-img convert -U}, so a VM may hold the image), its ext4 journal replayed when the
 * image is crash-consistent (what a mount would do), then {@code e2fsck -fn} (exit 0 means
 * nothing to repair) and {@code debugfs} to read the guest's journal file. The image itself is
 * never written.
 */
public final class GuestDisk {
    private static final Duration TIMEOUT = Duration.ofMinutes(10);

    /**
     * @param neededRecovery the filesystem had an unreplayed ext4 journal (crash-consistent;
     *                       false for a backup quiesced with fsfreeze, or a clean shutdown)
     * @param fsckExit       e2fsck -fn's exit status after the replay: 0 clean, 4 errors left
     * @param fsckOutput     what it printed
     * @param journalBytes   the guest's /journal file
     */
    public record Report(boolean neededRecovery, int fsckExit, String fsckOutput, byte[] journalBytes) {
        public boolean clean() {
            return fsckExit == 0;
        }

        public GuestJournal.Verdict journal() {
            return GuestJournal.verify(journalBytes);
        }
    }

    private GuestDisk() {
    }

    public static Report inspect(Path image, Path work, String name) throws OperationFailedException {
        Path raw = work.resolve(name + ".raw");
        Path journal = work.resolve(name + ".journal");
        try {
            Files.createDirectories(work);
            Files.deleteIfExists(journal);
            Commands.check(List.of("qemu-img", "convert", "-U", "-O", "raw", image.toString(), raw.toString()), null, TIMEOUT);
            String header = Commands.check(List.of("dumpe2fs", "-h", raw.toString()), null, TIMEOUT);
            boolean recovery = header.lines().anyMatch(l -> l.startsWith("Filesystem features:") && l.contains("needs_recovery"));
            if (recovery) {
                Commands.Result replay = Commands.run(List.of("e2fsck", "-E", "journal_only", "-p", raw.toString()), null, TIMEOUT);
                if (replay.exit() > 1) {
                    throw new OperationFailedException("replaying the ext4 journal of " + image + " failed (e2fsck exit "
                            + replay.exit() + "): " + replay.output());
                }
            }
            Commands.Result fsck = Commands.run(List.of("e2fsck", "-fn", raw.toString()), null, TIMEOUT);
            Commands.check(List.of("debugfs", "-R", "dump /journal " + journal, raw.toString()), null, TIMEOUT);
            byte[] bytes = Files.exists(journal) ? Files.readAllBytes(journal) : new byte[0];
            return new Report(recovery, fsck.exit(), fsck.output(), bytes);
        } catch (IOException e) {
            throw new OperationFailedException("cannot inspect the guest disk " + image + " in " + work + ": " + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(raw);
            } catch (IOException e) {
                // a leftover sparse copy in the scratch folder; the drill removes the folder
            }
        }
    }
}

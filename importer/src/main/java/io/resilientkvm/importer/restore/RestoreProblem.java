package io.resilientkvm.importer.restore;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Why a restore, release or flatten did not happen, with the data a caller needs to phrase it in
 * its own terms (a command line names its options; the library never does). Carried by
 * {@link RestoreInputException} (bad input) and {@link RestoreRefusedException} (refused for safety).
 */
public sealed interface RestoreProblem {
    /** The library's wording: what is wrong and where, without naming any command-line option. */
    String message();

    /** True when refused for safety (exit 3), false when bad input (exit 2). */
    default boolean refused() {
        return false;
    }

    /** The repository folder does not exist. */
    record NotARepository(Path root) implements RestoreProblem {
        public String message() {
            return "repository " + root + ": not a folder; give the backup repository";
        }
    }

    /** The repository holds no disk folder at all. */
    record NoDisk(Path root) implements RestoreProblem {
        public String message() {
            return "repository " + root + ": holds no disk folder (no backup at all); check the path";
        }
    }

    /** The named disk is not in the repository. */
    record UnknownDevice(String device, Path root, List<String> devices) implements RestoreProblem {
        public UnknownDevice {
            devices = List.copyOf(devices);
        }

        public String message() {
            return "disk " + device + ": not in " + root + "; it holds " + String.join(", ", devices);
        }
    }

    /** No disk named, and the repository holds several. */
    record DeviceNotChosen(Path root, List<String> devices) implements RestoreProblem {
        public DeviceNotChosen {
            devices = List.copyOf(devices);
        }

        public String message() {
            return "no disk named; " + root + " holds several disks: " + String.join(", ", devices) + "; name one";
        }
    }

    /**
     * The folder of one disk, or of one chain, was given as the repository (as the seed's tools take
     * the folder of one disk): its chains would read as disks without backups.
     */
    record NotRepositoryRoot(Path given, Path repository, String device, java.util.Optional<String> chain)
            implements RestoreProblem {
        /** The layout a repository has, for the messages. */
        public static final String LAYOUT = "the repository's layout is DIR/<device>/<chain>/FULL-<time>.qcow2,"
                + " then INC-<time>.qcow2";

        public String message() {
            return "repository " + given + ": is the folder of " + (chain.isPresent() ? "chain " + chain.get() + " of " : "")
                    + "disk " + device + ", not a repository (" + LAYOUT + "); give " + repository
                    + " and disk " + device + chain.map(ch -> " at point " + ch).orElse("") + " instead";
        }
    }

    /** The point is neither a backup of the disk nor a time. */
    record UnknownPoint(String device, String until) implements RestoreProblem {
        public String message() {
            return "point " + until + ": not a backup of " + device + " (file name, <chain>/<file> or chain) nor an"
                    + " ISO-8601 time such as 2026-11-24T10:00:00Z";
        }
    }

    /** The time is older than every kept backup. */
    record NothingAtOrBefore(String device, String until, Instant time, String oldest, Instant oldestTime)
            implements RestoreProblem {
        public String message() {
            return "point " + until + ": no backup of " + device + " at or before " + time + "; the oldest kept is "
                    + oldest + " at " + oldestTime;
        }
    }

    /** An instant restore asked for another format than qcow2. */
    record InstantNeedsQcow2(RestoreRequest.Format format) implements RestoreProblem {
        public String message() {
            return "format " + format.qemuName() + ": an instant restore is a qcow2 overlay on the chain; restore as"
                    + " qcow2, or as a standalone " + format.qemuName() + " image instead of an overlay";
        }
    }

    /** The output's folder does not exist. */
    record OutputFolderMissing(Path output, Path folder) implements RestoreProblem {
        public String message() {
            return "output " + output + ": folder " + folder + " does not exist; create it first";
        }
    }

    /** The output lies in the repository, which a restore never changes. */
    record OutputInRepository(Path output, Path root) implements RestoreProblem {
        public String message() {
            return "output " + output + ": inside the repository " + root + ", which a restore never changes;"
                    + " write it elsewhere";
        }
    }

    /** The output is a folder. */
    record OutputIsFolder(Path output) implements RestoreProblem {
        public String message() {
            return "output " + output + ": is a folder; give a file name";
        }
    }

    /** The output exists and is no regular file (a device, say). */
    record OutputNotRegularFile(Path output) implements RestoreProblem {
        public String message() {
            return "output " + output + ": not a regular file; restoring onto a device is not supported: restore into"
                    + " a file, then copy it (qemu-img convert -n FILE DEVICE)";
        }
    }

    /** The output exists and replacing it was not asked for. */
    record OutputExists(Path output) implements RestoreProblem {
        public String message() {
            return "output " + output + ": exists; refusing to overwrite it (ask to replace it)";
        }

        @Override
        public boolean refused() {
            return true;
        }
    }

    /** The chain up to the point failed verification. */
    record ChainDamaged(String device, String point, List<String> problems) implements RestoreProblem {
        public ChainDamaged {
            problems = List.copyOf(problems);
        }

        /** The first line and the problems, one per line, without advice. */
        public List<String> report() {
            List<String> lines = new ArrayList<>();
            lines.add("refusing to restore " + device + " at " + point + ": its chain failed verification:");
            problems.forEach(p -> lines.add("  " + p));
            return lines;
        }

        public String message() {
            List<String> lines = new ArrayList<>(report());
            lines.add("choose an intact point, or restore without verification at your own risk");
            return String.join(System.lineSeparator(), lines);
        }

        @Override
        public boolean refused() {
            return true;
        }
    }

    /**
     * A file of the chain up to the point names other files than its parent in its header (an
     * absolute or json: backing file, an external data file, ...): never restored, whatever the
     * verification asked, since qemu-img and QEMU would open what it names.
     */
    record UntrustedPoint(String device, String point, String reason) implements RestoreProblem {
        public String message() {
            return "refusing to restore " + device + " at " + point + ": " + reason
                    + "; a backup that names other files is never restored";
        }

        @Override
        public boolean refused() {
            return true;
        }
    }

    /** The point a hold was made at is no longer kept: its overlay cannot be flattened from it. */
    record HeldPointGone(Hold hold, Path root) implements RestoreProblem {
        public String message() {
            return "hold " + hold.id() + ": its point " + hold.device() + "/" + hold.chainId() + "/" + hold.file()
                    + " is no longer in " + root + "; the overlay " + hold.overlay() + " cannot be flattened from it";
        }

        @Override
        public boolean refused() {
            return true;
        }
    }

    /** A held overlay still reads from the chain: releasing its hold would let the chain be pruned under it. */
    record OverlayStillBacked(Hold hold, String backingFile) implements RestoreProblem {
        /** The state, without advice. */
        public String state() {
            return "hold " + hold.id() + ": overlay " + hold.overlay() + " still reads from " + backingFile + " (chain "
                    + hold.device() + "/" + hold.chainId() + ")";
        }

        public String message() {
            return state() + "; flatten it first (while no VM uses it; QEMU block-stream while one does) or delete"
                    + " it; a forced release lets the chain be pruned under it";
        }

        @Override
        public boolean refused() {
            return true;
        }
    }

    /** The overlay to flatten is gone. */
    record OverlayGone(Hold hold) implements RestoreProblem {
        public String message() {
            return "hold " + hold.id() + ": overlay " + hold.overlay() + " does not exist; release the hold";
        }
    }

    /** No hold has this id or overlay path. */
    record NoSuchHold(String idOrOverlay, Path holdsDir) implements RestoreProblem {
        public String message() {
            return "hold " + idOrOverlay + ": no such hold (id or overlay path) in " + holdsDir;
        }
    }
}

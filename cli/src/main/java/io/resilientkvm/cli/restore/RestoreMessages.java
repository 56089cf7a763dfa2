package io.resilientkvm.cli.restore;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.importer.restore.RestoreInputException;
import io.resilientkvm.importer.restore.RestoreProblem;
import io.resilientkvm.importer.restore.RestoreProblem.ChainDamaged;
import io.resilientkvm.importer.restore.RestoreProblem.DeviceNotChosen;
import io.resilientkvm.importer.restore.RestoreProblem.InstantNeedsQcow2;
import io.resilientkvm.importer.restore.RestoreProblem.NoDisk;
import io.resilientkvm.importer.restore.RestoreProblem.NoSuchHold;
import io.resilientkvm.importer.restore.RestoreProblem.NotARepository;
import io.resilientkvm.importer.restore.RestoreProblem.NotRepositoryRoot;
import io.resilientkvm.importer.restore.RestoreProblem.NothingAtOrBefore;
import io.resilientkvm.importer.restore.RestoreProblem.OutputExists;
import io.resilientkvm.importer.restore.RestoreProblem.OutputFolderMissing;
import io.resilientkvm.importer.restore.RestoreProblem.OutputInRepository;
import io.resilientkvm.importer.restore.RestoreProblem.OutputIsFolder;
import io.resilientkvm.importer.restore.RestoreProblem.OutputNotRegularFile;
import io.resilientkvm.importer.restore.RestoreProblem.OverlayGone;
import io.resilientkvm.importer.restore.RestoreProblem.OverlayStillBacked;
import io.resilientkvm.importer.restore.RestoreProblem.UnknownDevice;
import io.resilientkvm.importer.restore.RestoreProblem.UnknownPoint;
import io.resilientkvm.importer.restore.RestoreRefusedException;
import java.util.ArrayList;
import java.util.List;

/** bin/restore's wording of the library's {@link RestoreProblem}s: each names the option to change. */
final class RestoreMessages {
    private RestoreMessages() {
    }

    /** The same kind of exception (exit 2 or 3), phrased in bin/restore's options. */
    static OperatorException phrased(OperatorException e) {
        if (e instanceof RestoreInputException bad) {
            return new BadInputException(phrase(bad.problem()), e);
        }
        if (e instanceof RestoreRefusedException refused) {
            return new RefusedException(phrase(refused.problem()), e);
        }
        return e;
    }

    static String phrase(RestoreProblem problem) {
        if (problem instanceof NotARepository p) {
            return "--repository " + p.root() + ": not a folder; give the backup repository";
        } else if (problem instanceof NoDisk p) {
            return "--repository " + p.root() + ": holds no disk folder (no backup at all); check the path";
        } else if (problem instanceof NotRepositoryRoot p) {
            return "--repository " + p.given() + ": is " + (p.chain().isPresent()
                    ? "a chain folder, it holds backup files" : "the folder of disk " + p.device()
                    + ", its subfolders are chains holding backup files") + " (" + NotRepositoryRoot.LAYOUT
                    + "); give the repository instead: --repository " + p.repository() + " --device " + p.device()
                    + p.chain().map(ch -> " --until " + ch).orElse("");
        } else if (problem instanceof UnknownDevice p) {
            return "--device " + p.device() + ": not in " + p.root() + "; it holds " + String.join(", ", p.devices());
        } else if (problem instanceof DeviceNotChosen p) {
            return "--device: missing; " + p.root() + " holds several disks: " + String.join(", ", p.devices())
                    + "; choose one with --device NAME";
        } else if (problem instanceof UnknownPoint p) {
            return "--until " + p.until() + ": not a backup of " + p.device() + " (file name, <chain>/<file> or chain)"
                    + " nor an ISO-8601 time such as 2026-11-24T10:00:00Z; 'bin/restore --list' shows the points";
        } else if (problem instanceof NothingAtOrBefore p) {
            return "--until " + p.until() + ": no backup of " + p.device() + " at or before " + p.time()
                    + "; the oldest kept is " + p.oldest() + " at " + p.oldestTime();
        } else if (problem instanceof InstantNeedsQcow2 p) {
            return "--format " + p.format().qemuName() + ": an instant restore is a qcow2 overlay on the chain; use"
                    + " --format qcow2, or leave out --instant for a standalone raw image";
        } else if (problem instanceof OutputFolderMissing p) {
            return "--output " + p.output() + ": folder " + p.folder() + " does not exist; create it first";
        } else if (problem instanceof OutputInRepository p) {
            return "--output " + p.output() + ": inside the repository " + p.root()
                    + ", which a restore never changes; write it elsewhere";
        } else if (problem instanceof OutputIsFolder p) {
            return "--output " + p.output() + ": is a folder; give a file name";
        } else if (problem instanceof OutputNotRegularFile p) {
            return "--output " + p.output() + ": not a regular file; restoring onto a device is not supported:"
                    + " restore into a file, then copy it (qemu-img convert -n FILE DEVICE)";
        } else if (problem instanceof OutputExists p) {
            return "--output " + p.output() + ": exists; refusing to overwrite it (--force replaces it)";
        } else if (problem instanceof ChainDamaged p) {
            List<String> lines = new ArrayList<>(p.report());
            lines.add("choose an intact point with --until (bin/restore --list), or --no-verify to restore it anyway"
                    + " (never a point whose header was refused)");
            return String.join(System.lineSeparator(), lines);
        } else if (problem instanceof RestoreProblem.UntrustedPoint p) {
            return "refusing to restore " + p.device() + " at " + p.point() + ": " + p.reason()
                    + "; a backup that names other files is not restored even with --no-verify; choose an older"
                    + " point with --until (bin/restore --list)";
        } else if (problem instanceof OverlayStillBacked p) {
            return p.state() + "; flatten it first ('bin/restore --flatten " + p.hold().id() + "' when no VM uses it,"
                    + " QEMU block-stream while one does) or delete it; --force releases anyway and the chain may"
                    + " then be pruned under it";
        } else if (problem instanceof OverlayGone p) {
            return "hold " + p.hold().id() + ": overlay " + p.hold().overlay() + " does not exist; release the hold"
                    + " with --release " + p.hold().id();
        } else if (problem instanceof NoSuchHold p) {
            return "--release/--flatten " + p.idOrOverlay() + ": no such hold (id or overlay path) in " + p.holdsDir()
                    + "; 'bin/restore --holds' lists them";
        }
        return problem.message();
    }
}

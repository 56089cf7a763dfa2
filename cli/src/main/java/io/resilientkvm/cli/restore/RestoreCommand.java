package io.resilientkvm.cli.restore;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.cli.CommandRunner;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.importer.restore.Hold;
import io.resilientkvm.importer.restore.RestorePoint;
import io.resilientkvm.importer.restore.RestoreRequest;
import io.resilientkvm.importer.restore.RestoreRequest.Format;
import io.resilientkvm.importer.restore.RestoreRequest.Verification;
import io.resilientkvm.importer.restore.RestoreResult;
import io.resilientkvm.importer.restore.Restorer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bin/restore}: the disk as of any kept backup, as a standalone image or as an instant
 * overlay on the chain; lists points and holds, releases and flattens holds.
 */
@Command(name = "restore", mixinStandardHelpOptions = true, versionProvider = io.resilientkvm.cli.Version.class,
        description = {"Restores a disk as it was at a backup (default: the newest). The chain up to",
                "that point is verified first; the repository is never changed.",
                "  --output FILE            a standalone image (qemu-img convert of the chain)",
                "  --output FILE --instant  a qcow2 overlay on the chain, in milliseconds; the",
                "                           chain is held (never pruned) until released",
                "  --list | --holds         the restorable points | the holds of overlays"},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:done", "1:failed (qemu-img, I/O); nothing is left at --output", "2:bad input or usage",
                "3:refused: the chain failed verification, --output exists, a prune holds the repository,"
                        + " or the overlay still reads from the chain (--release)"})
public final class RestoreCommand extends CliCommand {
    @Option(names = "--repository", paramLabel = "DIR", required = true, description = "the backup repository")
    Path repository;

    @Option(names = "--device", paramLabel = "NAME", description = "the disk; optional when the repository holds one")
    String device;

    @Option(names = "--until", paramLabel = "BACKUP", description = "the point: a backup file name (with or without .qcow2:"
            + " INC-<time>), <chain>/<file>, a chain (its newest backup), or an ISO time (newest backup at or before it; no offset = UTC)")
    String until;

    @Option(names = "--output", paramLabel = "FILE", description = "the image (or overlay) to create")
    Path output;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "qcow2", description = "qcow2 or raw; default ${DEFAULT-VALUE}")
    Format format;

    @Option(names = "--instant", description = "create a qcow2 overlay on the chain (absolute backing path) and hold the chain")
    boolean instant;

    @Option(names = "--force", description = "replace an existing --output; with --release, release even if the overlay still reads the chain")
    boolean force;

    @Option(names = "--verify", paramLabel = "DEPTH", description = "full (SHA-256 of every file up to the point) or quick (sizes,"
            + " qemu-img check, backing names); default full, quick with --instant")
    Verification verify;

    @Option(names = "--no-verify", description = "restore without verifying the chain (at your own risk)")
    boolean noVerify;

    @Option(names = "--list", description = "list the restorable points (of --device, or of every disk)")
    boolean list;

    @Option(names = "--holds", description = "list the holds of instant overlays")
    boolean holds;

    @Option(names = "--release", paramLabel = "ID|OVERLAY", description = "release a hold (refused while the overlay still reads from the chain)")
    String release;

    @Option(names = "--flatten", paramLabel = "ID|OVERLAY",
            description = "copy the chain's data into a held overlay (qemu-img rebase -b \"\"; no VM may use it) and release its hold")
    String flatten;

    @Option(names = "--lock-wait", paramLabel = "SECONDS", defaultValue = "30", description = "wait this long for a running prune; default ${DEFAULT-VALUE}")
    long lockWaitSeconds;

    @Option(names = "--json", description = "print the result as JSON")
    boolean json;

    public static void main(String[] args) {
        CommandRunner.main(new RestoreCommand(), args);
    }

    @Override
    protected ExitStatus execute() throws Exception {
        checkOptions();
        if (!Files.isDirectory(repository)) {
            throw new BadInputException("--repository " + repository + ": not a folder; give the backup repository");
        }
        Restorer restorer = new Restorer(repository, new QemuImg("qemu-img", Restorer.DEFAULT_QEMU_IMG_TIMEOUT),
                Duration.ofSeconds(lockWaitSeconds));
        try {
            run(restorer);
        } catch (OperatorException e) {
            throw RestoreMessages.phrased(e);
        }
        return ExitStatus.OK;
    }

    private void run(Restorer restorer) throws Exception {
        if (list) {
            list(restorer);
        } else if (holds) {
            holds(restorer);
        } else if (release != null) {
            Hold h = restorer.release(release, force);
            print(json, holdJson(h).put("released", true), "released hold " + h.id() + " on " + h.device() + "/" + h.chainId()
                    + " (overlay " + h.overlay() + "); the chain may be pruned now");
        } else if (flatten != null) {
            long t0 = System.nanoTime();
            Hold h = restorer.flatten(flatten);
            double s = (System.nanoTime() - t0) / 1e9;
            print(json, holdJson(h).put("flattened", true).put("seconds", s), String.format(
                    "flattened %s in %.2f s (it no longer needs the repository) and released hold %s", h.overlay(), s, h.id()));
        } else {
            restore(restorer);
        }
    }

    private void checkOptions() throws BadInputException {
        List<String> problems = new ArrayList<>();
        int actions = (list ? 1 : 0) + (holds ? 1 : 0) + (release != null ? 1 : 0) + (flatten != null ? 1 : 0);
        if (actions > 1) {
            problems.add("--list, --holds, --release and --flatten: give only one of them");
        }
        if (actions == 0 && output == null) {
            problems.add("--output: missing; give the image to create (or --list, --holds, --release, --flatten)");
        }
        if (actions > 0 && (output != null || instant || until != null)) {
            problems.add("--output, --instant and --until restore; they do not go with --list, --holds, --release or --flatten");
        }
        if (noVerify && verify != null) {
            problems.add("--no-verify and --verify: give only one of them");
        }
        if (instant && format == Format.RAW) {
            problems.add("--format raw: an instant restore is a qcow2 overlay; leave out --instant for a raw image");
        }
        if (lockWaitSeconds < 0) {
            problems.add("--lock-wait " + lockWaitSeconds + ": must be 0 or more seconds");
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
    }

    private void restore(Restorer restorer) throws Exception {
        Verification depth = noVerify ? Verification.NONE : verify != null ? verify
                : instant ? Verification.QUICK : Verification.FULL;
        RestoreRequest request = RestoreRequest.to(output).withDevice(device).withUntil(until).withFormat(format)
                .withForce(force).withVerification(depth);
        RestoreResult r = instant ? restorer.instant(request) : restorer.materialize(request);
        RestorePoint p = r.point();
        ObjectNode o = JSON.createObjectNode().put("device", p.device()).put("chain", p.chain().chainId())
                .put("file", p.backup().file()).put("point", p.name()).put("time", p.time().toString())
                .put("output", r.output().toString()).put("format", r.format().qemuName()).put("instant", r.instant())
                .put("verification", depth.name().toLowerCase()).put("virtualSize", r.virtualSize())
                .put("outputSize", r.outputSize()).put("verifySeconds", r.verifySeconds()).put("seconds", r.seconds()).put("totalSeconds", r.totalSeconds())
                .put("mbPerSecond", r.mbPerSecond());
        r.hold().ifPresent(h -> o.put("hold", h.id()));
        ArrayNode w = o.putArray("warnings");
        r.warnings().forEach(w::add);
        String text;
        if (r.instant()) {
            Hold h = r.hold().orElseThrow();
            text = String.format("instant restore of %s at %s (%s): overlay %s created in %.0f ms (verified %s in %.2f s)%n"
                    + "hold %s keeps chain %s from pruning; flatten before releasing: bin/restore --repository %s --flatten %s",
                    p.device(), p.name(), p.time(), r.output(), r.seconds() * 1000, depth.name().toLowerCase(),
                    r.verifySeconds(), h.id(), p.chain().chainId(), repository, h.id());
        } else {
            text = String.format("restored %s at %s (%s) into %s (%s): %,d bytes disk, %,d bytes file in %.2f s (%.1f MB/s);"
                    + " convert+fsync %.2f s, verified %s in %.2f s alongside", p.device(), p.name(), p.time(), r.output(),
                    r.format().qemuName(), r.virtualSize(), r.outputSize(), r.totalSeconds(),
                    r.mbPerSecond(), r.seconds(), depth.name().toLowerCase(),
                    r.verifySeconds());
        }
        for (String warning : r.warnings()) {
            text += System.lineSeparator() + "warning: " + warning;
        }
        print(json, o, text);
    }

    private void list(Restorer restorer) throws Exception {
        List<String> devices = device != null ? List.of(restorer.device(Optional.of(device))) : restorer.devices();
        ArrayNode a = JSON.createArrayNode();
        StringBuilder text = new StringBuilder();
        for (String d : devices) {
            for (RestorePoint p : restorer.points(d)) {
                a.addObject().put("device", d).put("chain", p.chain().chainId()).put("file", p.backup().file())
                        .put("point", p.name()).put("level", p.backup().level().name()).put("sequence", p.backup().sequence())
                        .put("time", p.time().toString()).put("virtualSize", p.backup().virtualSize())
                        .put("fileSize", p.backup().fileSize()).put("chainClosed", p.chain().closedReason() != null);
                text.append(String.format("%-10s %-60s %-4s %s %,15d bytes%n", d, p.name(), p.backup().level(), p.time(),
                        p.backup().fileSize()));
            }
        }
        if (text.isEmpty()) {
            text.append("no complete backup in ").append(repository).append(System.lineSeparator());
        }
        print(json, a, text.toString().stripTrailing());
    }

    private void holds(Restorer restorer) throws Exception {
        ArrayNode a = JSON.createArrayNode();
        StringBuilder text = new StringBuilder();
        for (Hold h : restorer.holds().list()) {
            boolean exists = Files.exists(h.overlay());
            a.add(holdJson(h).put("overlayExists", exists));
            text.append(String.format("%s  %s/%s/%s  overlay %s%s  since %s (pid %d on %s)%n", h.id(), h.device(), h.chainId(),
                    h.file(), h.overlay(), exists ? "" : " (gone: --release it)", h.createdAt(), h.pid(), h.host()));
        }
        if (text.isEmpty()) {
            text.append("no holds in ").append(repository);
        }
        print(json, a, text.toString().stripTrailing());
    }

    private ObjectNode holdJson(Hold h) {
        return JSON.createObjectNode().put("id", h.id()).put("device", h.device()).put("chain", h.chainId())
                .put("file", h.file()).put("overlay", h.overlay().toString()).put("createdAt", h.createdAt().toString())
                .put("pid", h.pid()).put("host", h.host());
    }
}

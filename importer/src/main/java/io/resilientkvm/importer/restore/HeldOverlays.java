package io.resilientkvm.importer.restore;

import io.resilientkvm.engine.disk.ImageInfo;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The holds of instant overlays: a new hold for an overlay, its release once the overlay no
 * longer reads from the repository, and the flattening that makes an overlay standalone.
 */
final class HeldOverlays {
    private static final Logger LOG = LoggerFactory.getLogger(HeldOverlays.class);

    private final Path repositoryRoot;
    private final Holds holds;
    private final QemuImg qemuImg;
    private final RestorePoints points;

    HeldOverlays(Path repositoryRoot, Holds holds, QemuImg qemuImg, RestorePoints points) {
        this.repositoryRoot = repositoryRoot;
        this.holds = holds;
        this.qemuImg = qemuImg;
        this.points = points;
    }

    /** A new hold (not yet written) for an overlay of {@code point} at {@code overlay}. */
    static Hold newHold(RestorePoint point, Path overlay) {
        return new Hold(newId(point.device()), point.device(), point.chain().chainId(), point.backup().file(), overlay,
                Instant.now(), ProcessHandle.current().pid(), hostName());
    }

    /** See {@link Restorer#release}. */
    Hold release(String idOrOverlay, boolean force) throws IOException, OperatorException {
        Hold hold = find(idOrOverlay);
        if (!force && Files.exists(hold.overlay())) {
            ImageInfo info = qemuImg.info(hold.overlay());
            if (info.backingFile() != null && readsFromRepository(hold.overlay(), info.backingFile())) {
                throw new RestoreRefusedException(new RestoreProblem.OverlayStillBacked(hold, info.backingFile()));
            }
        }
        holds.remove(hold);
        LOG.info("released hold {} on {}/{} (overlay {})", hold.id(), hold.device(), hold.chainId(), hold.overlay());
        return hold;
    }

    /** See {@link Restorer#flatten}. */
    Hold flatten(String idOrOverlay) throws IOException, OperatorException {
        Hold hold = find(idOrOverlay);
        if (!Files.exists(hold.overlay())) {
            throw new RestoreInputException(new RestoreProblem.OverlayGone(hold));
        }
        // qemu-img rebase reads the chain through the names in its headers: check them first.
        ChainCheck.trusted(heldPoint(hold));
        long t0 = System.nanoTime();
        qemuImg.flatten(hold.overlay());
        holds.remove(hold);
        LOG.info("flattened {} in {} s and released hold {}", hold.overlay(),
                String.format("%.2f", (System.nanoTime() - t0) / 1e9), hold.id());
        return hold;
    }

    private RestorePoint heldPoint(Hold hold) throws IOException, BadInputException, RefusedException {
        for (RestorePoint p : points.points(hold.device())) {
            if (p.chain().chainId().equals(hold.chainId()) && p.backup().file().equals(hold.file())) {
                return p;
            }
        }
        throw new RestoreRefusedException(new RestoreProblem.HeldPointGone(hold, repositoryRoot));
    }

    /** True when {@code backing} (as recorded in the overlay: absolute, or relative to its folder) lies in the repository. */
    private boolean readsFromRepository(Path overlay, String backing) {
        Path b = overlay.toAbsolutePath().getParent().resolve(backing).normalize();
        return b.startsWith(repositoryRoot);
    }

    private Hold find(String idOrOverlay) throws IOException, BadInputException {
        points.requireRepository();
        return holds.find(idOrOverlay).orElseThrow(() -> new RestoreInputException(
                new RestoreProblem.NoSuchHold(idOrOverlay, holds.dir())));
    }

    private static String newId(String device) {
        byte[] random = new byte[4];
        ThreadLocalRandom.current().nextBytes(random);
        return device.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + RestorePoints.STAMP.format(Instant.now()) + "-"
                + HexFormat.of().formatHex(random);
    }

    private static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown";
        }
    }
}

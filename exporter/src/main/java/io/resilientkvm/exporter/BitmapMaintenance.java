package io.resilientkvm.exporter;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.engine.qmp.QmpClient;
import io.resilientkvm.engine.qmp.QmpException;
import io.resilientkvm.exporter.qmp.BlockDevice;
import io.resilientkvm.exporter.qmp.BlockDiscovery;
import io.resilientkvm.exporter.qmp.DirtyBitmap;
import io.resilientkvm.exporter.repository.Repository;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The VM's {@code qmpbackup-*} dirty bitmaps: removal on the operator's request (closing the
 * chains that used them) and the housekeeping of a run (an inconsistent bitmap, the bitmaps of
 * older chains once a new chain has its full). The caller holds the repository lock.
 */
final class BitmapMaintenance {
    private static final Logger LOG = LoggerFactory.getLogger(BitmapMaintenance.class);

    private final QmpClient qmp;

    BitmapMaintenance(QmpClient qmp) {
        this.qmp = qmp;
    }

    /** The bitmap name prefix of a disk: {@code qmpbackup-<device>-}, then the chain id. */
    static String prefix(String device) {
        return "qmpbackup-" + device + "-";
    }

    void remove(BlockDevice d, String name) throws QmpException {
        qmp.execute("block-dirty-bitmap-remove", JsonNodeFactory.instance.objectNode()
                .put("node", d.nodeName()).put("name", name));
    }

    /** An inconsistent bitmap can never be used again; remove it on the running VM. */
    void dropInconsistent(BlockDevice d, Chain chain) throws QmpException {
        for (DirtyBitmap b : d.bitmaps()) {
            if (b.inconsistent() && b.name().startsWith(prefix(d.name()))) {
                LOG.warn("{}: bitmap {} is inconsistent (QEMU was killed while using it): removing it; chain {} "
                        + "takes no more incrementals, a new chain starts with a full backup", d.name(), b.name(),
                        chain == null ? "-" : chain.chainId());
                remove(d, b.name());
            }
        }
    }

    /** Bitmaps of older chains only slow the VM down once a new chain has its full. */
    void dropOtherChains(BlockDevice d, String keep) throws QmpException {
        List<DirtyBitmap> now = BlockDiscovery.discover(qmp).stream().filter(x -> x.name().equals(d.name()))
                .findFirst().map(BlockDevice::bitmaps).orElse(List.of());
        for (DirtyBitmap b : now) {
            if (b.name().startsWith(prefix(d.name())) && !b.name().equals(keep)) {
                try {
                    remove(d, b.name());
                    LOG.info("{}: removed bitmap {} of an older chain", d.name(), b.name());
                } catch (QmpException e) {
                    LOG.warn("{}: could not remove old bitmap {}: {}", d.name(), b.name(), e.getMessage());
                }
            }
        }
    }

    /** See {@link Exporter#removeBitmaps}; the caller holds the lock. */
    List<String> removeOnRequest(Repository repo, List<String> devices, List<String> names)
            throws IOException, OperatorException {
        for (JsonNode job : qmp.execute("query-jobs")) {
            if (!"concluded".equals(job.path("status").asText())) {
                throw new RefusedException("block job " + job.path("id").asText() + " (" + job.path("type").asText()
                        + ", " + job.path("status").asText() + ") runs on the VM; remove bitmaps once it ended");
            }
        }
        List<BlockDevice> disks = BlockDiscovery.discover(qmp);
        List<String> problems = new ArrayList<>();
        for (String d : devices) {
            if (disks.stream().noneMatch(x -> x.name().equals(d))) {
                problems.add("device '" + d + "' is not a disk of this VM (disks: "
                        + disks.stream().map(BlockDevice::name).toList() + ")");
            }
        }
        List<BlockDevice> owners = new ArrayList<>();
        List<DirtyBitmap> chosen = new ArrayList<>();
        for (BlockDevice d : disks) {
            for (DirtyBitmap b : d.bitmaps()) {
                boolean wanted = names.isEmpty() ? (devices.isEmpty() || devices.contains(d.name()))
                        && b.name().startsWith(prefix(d.name())) : names.contains(b.name());
                if (wanted) {
                    owners.add(d);
                    chosen.add(b);
                }
            }
        }
        for (String n : names) {
            if (chosen.stream().noneMatch(b -> b.name().equals(n))) {
                problems.add("bitmap '" + n + "' is on no disk of this VM (see bin/exporter --list)");
            }
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
        for (DirtyBitmap b : chosen) {
            if (b.busy()) {
                throw new RefusedException("bitmap " + b.name() + " is busy (a job uses it); try again once it ended");
            }
        }
        List<String> removed = new ArrayList<>();
        for (int i = 0; i < chosen.size(); i++) {
            BlockDevice d = owners.get(i);
            String name = chosen.get(i).name();
            remove(d, name);
            LOG.info("{}: removed bitmap {} on the operator's request", d.name(), name);
            removed.add(d.name() + "/" + name);
            for (Chain c : repo.chains(d.name())) {
                if (c.isOpen() && c.bitmap().filter(name::equals).isPresent()) {
                    repo.close(c, "its bitmap " + name + " was removed by the operator; the next backup "
                            + "starts a new chain");
                }
            }
        }
        return removed;
    }
}

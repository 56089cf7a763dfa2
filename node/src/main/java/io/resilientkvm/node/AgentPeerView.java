package io.resilientkvm.node;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.node.peer.PeerView;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * What the agent tells its peers on {@code GET /v1/hello}, from what it already knows: its last
 * announcement (role, epoch; no ZooKeeper read, so it answers during an outage too) and the
 * newest complete backup of each disk in its own repository (a clone writes a manifest only once
 * the backup is verified; the main once it is taken).
 */
final class AgentPeerView implements Supplier<PeerView> {
    private final NodeConfig config;
    private final Membership membership;

    AgentPeerView(NodeConfig config, Membership membership) {
        this.config = config;
        this.membership = membership;
    }

    @Override
    public PeerView get() {
        MemberInfo announced = membership.info();
        List<PeerView.Backup> newest = new ArrayList<>();
        try {
            for (BackupManifest m : new BackupRepository(config.layout().backupRepository()).newestBackups()) {
                newest.add(new PeerView.Backup(m.device(), m.chainId(), m.sequence(), m.file(), m.startedAt().toString()));
            }
        } catch (IOException | BadInputException e) {
            throw new IllegalStateException("cannot read the backup repository " + config.layout().backupRepository() + ": "
                    + e.getMessage(), e);
        }
        return new PeerView(config.node(), config.instance(), announced.role(), announced.epoch(), newest);
    }
}

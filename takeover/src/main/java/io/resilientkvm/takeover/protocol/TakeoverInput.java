package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.takeover.membership.MemberInfo;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import io.resilientkvm.takeover.fencing.FailsafeAck;
import java.util.Set;

/**
 * Everything the planner looks at, read from ZooKeeper (or given by a test).
 *
 * @param node      the node that wants to become the main
 * @param epoch     the current epoch (its owner is the current main)
 * @param members   the running nodes ({@code Membership.list}), by name
 * @param published every published manifest ({@code ManifestCatalog.list}), in backup order
 * @param statuses  every clone's importer status ({@code ImporterStatusStore.all}), by name
 * @param fenced    the nodes marked fenced in ZooKeeper
 * @param force     accept the overridable risks
 * @param promise   this node's fail-safe acknowledgement of a main, as recorded on its host (docs/takeover.md)
 */
public record TakeoverInput(String node, Epoch epoch, Map<String, MemberInfo> members, List<BackupManifest> published,
                            Map<String, ImporterStatus> statuses, Set<String> fenced, boolean force,
                            Optional<FailsafeAck> promise) {
    /** Without a fail-safe acknowledgement on this node. */
    public TakeoverInput(String node, Epoch epoch, Map<String, MemberInfo> members, List<BackupManifest> published,
                         Map<String, ImporterStatus> statuses, Set<String> fenced, boolean force) {
        this(node, epoch, members, published, statuses, fenced, force, Optional.empty());
    }

    public TakeoverInput {
        Objects.requireNonNull(promise, "promise");
        ZkLayout.requireName("node", node);
        Objects.requireNonNull(epoch, "epoch");
        members = Map.copyOf(members);
        published = List.copyOf(published);
        statuses = Map.copyOf(statuses);
        fenced = Set.copyOf(fenced);
    }
}

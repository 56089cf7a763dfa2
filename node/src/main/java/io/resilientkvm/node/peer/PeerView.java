package io.resilientkvm.node.peer;

import io.resilientkvm.takeover.membership.Role;
import java.util.List;
import java.util.Objects;

/**
 * What a node says of itself on {@code GET /v1/hello}: what its agent already knows, no
 * ZooKeeper read.
 *
 * @param role   the role it plays now (as it last announced it)
 * @param epoch  the epoch it knows (that of its last announcement; -1 when none)
 * @param newest its newest verified backup of each disk, in its own repository
 */
public record PeerView(String node, String instance, Role role, long epoch, List<Backup> newest) {
    /** A backup point: the disk, its chain, its place in the chain, the file and when the main took it (ISO-8601). */
    public record Backup(String device, String chain, int sequence, String file, String takenAt) {
        public Backup {
            Objects.requireNonNull(device, "device");
            Objects.requireNonNull(chain, "chain");
            Objects.requireNonNull(file, "file");
            Objects.requireNonNull(takenAt, "takenAt");
        }
    }

    public PeerView {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(instance, "instance");
        Objects.requireNonNull(role, "role");
        newest = newest == null ? List.of() : List.copyOf(newest);
    }
}

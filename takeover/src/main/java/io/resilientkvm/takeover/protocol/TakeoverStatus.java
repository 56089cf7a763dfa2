package io.resilientkvm.takeover.protocol;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatus.Point;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ManifestCatalog;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException;

/**
 * What {@code bin/takeover status} shows: the epoch and its owner, the members, per disk the
 * newest published backup and each clone's point and lag, the fenced nodes and a running
 * takeover. Plain values; the CLI prints them ({@link #table()} is a ready-made text form).
 *
 * @param at             when it was read
 * @param epoch          the current epoch; null when the instance has none yet
 * @param members        the running nodes, by name
 * @param devices        per disk, in name order
 * @param fenced         the fenced nodes
 * @param takeoverHolder the node running a takeover now (holding the lock); null when none
 */
public record TakeoverStatus(Instant at, Epoch epoch, List<MemberInfo> members, List<DeviceStatus> devices, List<FencedNode> fenced,
                             String takeoverHolder) {
    public TakeoverStatus {
        Objects.requireNonNull(at, "at");
        members = List.copyOf(members);
        devices = List.copyOf(devices);
        fenced = List.copyOf(fenced);
    }

    /**
     * One disk.
     *
     * @param newest the newest published backup; null when none is published
     */
    public record DeviceStatus(String device, BackupManifest newest, List<CloneLag> clones) {
        public DeviceStatus {
            Objects.requireNonNull(device, "device");
            clones = List.copyOf(clones);
        }
    }

    /**
     * One clone's hold on one disk.
     *
     * @param held        its newest verified point; null when it holds none of this disk
     * @param statusEpoch the epoch its status was written under
     * @param stale       its status is from an older epoch than the current one
     * @param running     it is a live member
     * @param lag         against the newest published backup
     * @param dataAge     {@code at} minus the held point's capture time; null without a point
     * @param lastError   its importer's last error, or null
     */
    public record CloneLag(String node, Point held, long statusEpoch, boolean stale, boolean running, Lag lag, Duration dataAge,
                           String lastError) {
        public CloneLag {
            Objects.requireNonNull(node, "node");
            Objects.requireNonNull(lag, "lag");
        }
    }

    /** Reads everything from ZooKeeper. */
    public static TakeoverStatus read(CuratorFramework client, ZkLayout layout, Clock clock) throws OperationFailedException {
        Epoch epoch = new EpochStore(client, layout).current().orElse(null);
        return of(clock.instant(), epoch, Membership.list(client, layout), new ManifestCatalog(client, layout).list(),
                new ImporterStatusStore(client, layout).all(), new FencedNodes(client, layout).list(), lockHolder(client, layout));
    }

    /** Builds the status from plain values (what {@link #read} does after reading). */
    public static TakeoverStatus of(Instant at, Epoch epoch, Map<String, MemberInfo> members, List<BackupManifest> published,
                                    Map<String, ImporterStatus> statuses, List<FencedNode> fenced, String takeoverHolder) {
        Map<String, List<BackupManifest>> byDevice = new TreeMap<>();
        for (BackupManifest m : published) {
            byDevice.computeIfAbsent(m.device(), d -> new ArrayList<>()).add(m);
        }
        TreeSet<String> names = new TreeSet<>(byDevice.keySet());
        statuses.values().forEach(s -> s.held().forEach(p -> names.add(p.device())));
        List<DeviceStatus> devices = new ArrayList<>();
        for (String device : names) {
            List<BackupManifest> pubs = byDevice.getOrDefault(device, List.of());
            List<CloneLag> clones = new ArrayList<>();
            for (ImporterStatus s : new TreeMap<>(statuses).values()) {
                Point held = s.point(device).orElse(null);
                Duration age = held == null ? null : Duration.between(held.takenAt(), at);
                clones.add(new CloneLag(s.node(), held, s.epoch(), epoch != null && s.epoch() < epoch.number(), members.containsKey(s.node()),
                        Lag.of(pubs, held), age == null || !age.isNegative() ? age : Duration.ZERO, s.lastError()));
            }
            devices.add(new DeviceStatus(device, pubs.isEmpty() ? null : pubs.get(pubs.size() - 1), clones));
        }
        return new TakeoverStatus(at, epoch, new TreeMap<>(members).values().stream().toList(), devices, fenced, takeoverHolder);
    }

    /** The node holding the takeover lock now, or null. */
    static String lockHolder(CuratorFramework client, ZkLayout layout) throws OperationFailedException {
        String path = layout.takeoverLockPath();
        try {
            // Curator's lock nodes end in a sequence number; the lowest holds the lock.
            List<String> children = client.getChildren().forPath(path).stream()
                    .sorted(Comparator.comparing((String c) -> c.substring(Math.max(0, c.length() - 10)))).toList();
            for (String child : children) {
                try {
                    return new String(client.getData().forPath(path + "/" + child), StandardCharsets.UTF_8);
                } catch (KeeperException.NoNodeException released) {
                    // released while we looked: try the next
                }
            }
            return null;
        } catch (KeeperException.NoNodeException none) {
            return null;
        } catch (Exception e) { // Curator declares Exception
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new OperationFailedException("ZooKeeper: cannot read the takeover lock at " + path + ": " + e.getMessage(), e);
        }
    }

    /** A text table for a terminal. */
    public String table() {
        StringBuilder b = new StringBuilder();
        b.append("Epoch: ").append(epoch == null ? "none (no main ever started)" : epoch.number() + " owned by " + epoch.owner() + " since " + epoch.since())
                .append('\n');
        if (takeoverHolder != null) {
            b.append("Takeover running: ").append(takeoverHolder).append('\n');
        }
        b.append("Members:\n");
        if (members.isEmpty()) {
            b.append("  (none running)\n");
        }
        for (MemberInfo m : members) {
            b.append(String.format("  %-20s %-6s epoch %-4d %s%n", m.node(), m.role(), m.epoch(), m.address().isEmpty() ? "-" : m.address()));
            if (!m.backupSchedule().isEmpty()) {
                b.append("    backups: ").append(m.backupSchedule()).append('\n');
            }
        }
        for (DeviceStatus d : devices) {
            b.append("Disk ").append(d.device()).append(": newest published ")
                    .append(d.newest() == null ? "none" : Lag.describe(d.newest().chainId(), d.newest().sequence()) + " taken " + d.newest().startedAt())
                    .append('\n');
            for (CloneLag c : d.clones()) {
                b.append(String.format("  %-20s %-40s %-28s%s%s%s%n", c.node(),
                        c.held() == null ? "holds nothing" : Lag.describe(c.held().chainId(), c.held().sequence()), c.lag(),
                        c.running() ? "" : " (not running)", c.stale() ? " (status from epoch " + c.statusEpoch() + ")" : "",
                        c.lastError() == null ? "" : " last error: " + c.lastError()));
            }
        }
        b.append("Fenced:");
        if (fenced.isEmpty()) {
            b.append(" none\n");
        } else {
            b.append('\n');
            for (FencedNode f : fenced) {
                b.append("  ").append(f.node()).append(" (was main of epoch ").append(f.reason().epoch()).append(", marked by ")
                        .append(f.markedBy()).append(" at ").append(f.reason().at()).append("): ").append(f.reason().why()).append('\n');
            }
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return table();
    }
}

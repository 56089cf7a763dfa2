package io.resilientkvm.drill;

import java.nio.file.Path;
import java.util.Optional;

/**
 * What a drill does.
 *
 * @param diskBytes      size of the main's blank disk
 * @param rounds         takeovers to run, one after the other
 * @param backupsPerRound backups each main takes before it is killed (the first of a chain is a full)
 * @param intervalSeconds the exporter's period (divides 60)
 * @param scratch        where the nodes live; empty for a new temporary folder
 * @param keep           keep the scratch folder after a successful drill
 * @param zookeeper      an external ZooKeeper connection string; empty for an embedded one
 * @param accelerator    auto, kvm or tcg
 * @param workload       guest (the tiny Linux guest) or qemu-io (patterns written through QMP, no OS)
 * @param guestLoad      with the guest: also run its bulk writer (4 MiB fsync'ed blocks, as fast as it can)
 * @param disaster       kill (SIGKILL of the main's agent and VM) or cut (on a bed: the main's host link down)
 * @param bed            the network bed the drill runs on (its id, see NetBed#attach), the drill itself on its
 *                       operator host; empty on one machine
 */
record DrillOptions(long diskBytes, int rounds, int backupsPerRound, int intervalSeconds, Optional<Path> scratch,
        boolean keep, Optional<String> zookeeper, String accelerator, String workload, boolean guestLoad,
        String disaster, Optional<String> bed) {
    /** The main's host is cut from everything instead of its processes killed. */
    boolean cut() {
        return "cut".equals(disaster);
    }

    boolean guest() {
        return "guest".equals(workload);
    }
}

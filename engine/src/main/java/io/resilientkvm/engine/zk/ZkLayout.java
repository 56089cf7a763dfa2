package io.resilientkvm.engine.zk;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Where an instance keeps its coordination state in ZooKeeper (see docs/zookeeper-layout.md).
 *
 * <pre>
 * BASE/instances/INSTANCE/
 *   epoch                       the current epoch and its owner (the main); CAS on its version
 *   members/NODE                ephemeral, one per running node agent: role, address, epoch
 *   manifests/DEVICE/CHAIN/SEQ  each completed backup's manifest, written under the epoch check
 *   importers/NODE              what each clone holds, for lag and takeover decisions
 *   fenced/NODE                 a node that must not run a VM until an operator clears it
 *   locks/takeover, locks/exporter   Curator InterProcessMutex paths
 * </pre>
 */
public record ZkLayout(String basePath, String instance) {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
    public static final String DEFAULT_BASE = "/resilient-kvm";

    public ZkLayout {
        Objects.requireNonNull(basePath, "basePath");
        if (!basePath.startsWith("/") || (basePath.length() > 1 && basePath.endsWith("/"))) {
            throw new IllegalArgumentException("ZooKeeper base path must start with / and not end with /: " + basePath);
        }
        requireName("instance", instance);
    }

    /** Node, device and chain names become path segments: refuse anything that could escape. */
    public static String requireName(String what, String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(what + " name '" + name + "' is not valid: use letters, digits, '.', '_' or '-', at most 63, starting with a letter or digit");
        }
        return name;
    }

    public String instancePath() {
        return (basePath.equals("/") ? "" : basePath) + "/instances/" + instance;
    }

    public String epochPath() {
        return instancePath() + "/epoch";
    }

    public String membersPath() {
        return instancePath() + "/members";
    }

    public String memberPath(String node) {
        return membersPath() + "/" + requireName("node", node);
    }

    public String manifestsPath() {
        return instancePath() + "/manifests";
    }

    public String manifestPath(String device, String chain, long sequence) {
        return manifestsPath() + "/" + requireName("device", device) + "/" + requireName("chain", chain)
                + "/" + String.format("%010d", sequence);
    }

    public String importersPath() {
        return instancePath() + "/importers";
    }

    public String importerPath(String node) {
        return importersPath() + "/" + requireName("node", node);
    }

    public String fencedPath(String node) {
        return instancePath() + "/fenced/" + requireName("node", node);
    }

    public String takeoverLockPath() {
        return instancePath() + "/locks/takeover";
    }

    public String exporterLockPath() {
        return instancePath() + "/locks/exporter";
    }
}

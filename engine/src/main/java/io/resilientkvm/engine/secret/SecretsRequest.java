package io.resilientkvm.engine.secret;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.zk.ZkLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What {@code bin/node secrets} makes secrets for: the instance, its nodes and their addresses,
 * the peer-channel port every node listens on, and where each host's ZooKeeper server will find
 * its TLS files ({@code zookeeperDir}, an absolute path on that host) and on which secure port it
 * listens. {@code pathPrefix} goes in front of every path of the node-config fragment (empty: the
 * node configuration lies in the node's folder).
 */
public record SecretsRequest(String instance, List<NodeAddress> nodes, int channelPort, int zookeeperPort,
        String zookeeperDir, String pathPrefix) {
    public static final int DEFAULT_CHANNEL_PORT = 8444;
    public static final int DEFAULT_ZOOKEEPER_PORT = 2281;
    public static final String DEFAULT_ZOOKEEPER_DIR = "/etc/zookeeper/tls";

    public SecretsRequest {
        ZkLayout.requireName("instance", instance);
        nodes = List.copyOf(nodes);
        Objects.requireNonNull(zookeeperDir, "zookeeperDir");
        Objects.requireNonNull(pathPrefix, "pathPrefix");
    }

    /**
     * Checks the request as a whole and names every problem at once: at least two nodes, each name
     * once, ports in range, an absolute ZooKeeper folder, a relative path prefix.
     */
    public static SecretsRequest of(String instance, List<NodeAddress> nodes, int channelPort, int zookeeperPort,
            String zookeeperDir, String pathPrefix) throws BadInputException {
        List<String> problems = new ArrayList<>();
        try {
            ZkLayout.requireName("instance", instance);
        } catch (IllegalArgumentException e) {
            problems.add("--instance: " + e.getMessage());
        }
        if (nodes.size() < 2) {
            problems.add("--node: " + nodes.size() + " given; give every node of the instance (a main and its clones, usually"
                    + " three), each as --node NAME=ADDRESS");
        }
        Set<String> seen = new HashSet<>();
        for (NodeAddress n : nodes) {
            if (!seen.add(n.node())) {
                problems.add("--node: " + n.node() + " is given twice; each node once, with the address the others reach it at");
            }
        }
        if (channelPort < 1 || channelPort > 65535) {
            problems.add("--channel-port " + channelPort + ": give a TCP port from 1 to 65535");
        }
        if (zookeeperPort < 1 || zookeeperPort > 65535) {
            problems.add("--zookeeper-port " + zookeeperPort + ": give a TCP port from 1 to 65535");
        }
        if (!zookeeperDir.startsWith("/") || zookeeperDir.contains("\n")) {
            problems.add("--zookeeper-dir " + zookeeperDir + ": give the absolute folder the ZooKeeper server of each host"
                    + " reads its TLS files from (zoo.cfg names them by absolute path)");
        }
        if (pathPrefix.startsWith("/") || pathPrefix.contains("..")) {
            problems.add("--path-prefix " + pathPrefix + ": give the node's folder relative to its configuration file"
                    + " (e.g. 'secrets/'), without '..'");
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
        String prefix = pathPrefix.isEmpty() || pathPrefix.endsWith("/") ? pathPrefix : pathPrefix + "/";
        String dir = zookeeperDir.length() > 1 && zookeeperDir.endsWith("/")
                ? zookeeperDir.substring(0, zookeeperDir.length() - 1) : zookeeperDir;
        return new SecretsRequest(instance, nodes, channelPort, zookeeperPort, dir, prefix);
    }
}

package io.resilientkvm.engine.secret;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.stream.Collectors;

/**
 * The part of a node's configuration that names its secrets (docs/deployment.md, "Configuration
 * contract"): {@code tls}, {@code backup-server.token-file}, {@code peer-channel},
 * {@code zookeeper} (the ensemble on the nodes' hosts, the two digest secrets, TLS) and
 * {@code peers} (address, pinned certificate, token, channel port). Paths are relative to the
 * node's folder, behind the request's prefix.
 */
final class NodeConfigFragment {
    private static final ObjectMapper JSON = new ObjectMapper();

    private NodeConfigFragment() {
    }

    static ObjectNode of(SecretsRequest request, NodeAddress self) {
        String p = request.pathPrefix();
        ObjectNode root = JSON.createObjectNode();
        root.putObject("tls").put("keystore", p + InstanceSecrets.NODE_KEYSTORE)
                .put("keystore-password-file", p + InstanceSecrets.NODE_KEYSTORE + ".password");
        root.putObject("backup-server").put("token-file", p + InstanceSecrets.TOKEN);
        root.putObject("peer-channel").put("bind", self.address()).put("port", request.channelPort());
        ObjectNode zk = root.putObject("zookeeper");
        zk.put("connect", request.nodes().stream().map(n -> hostPort(n, request.zookeeperPort()))
                .collect(Collectors.joining(",")));
        zk.put("instance-secret-file", p + InstanceSecrets.ZK_INSTANCE_SECRET);
        zk.put("node-secret-file", p + InstanceSecrets.ZK_NODE_SECRET);
        zk.putObject("tls").put("truststore", p + InstanceSecrets.TRUSTSTORE)
                .put("truststore-password-file", p + InstanceSecrets.TRUSTSTORE + ".password");
        ObjectNode peers = root.putObject("peers");
        for (NodeAddress other : request.nodes()) {
            if (!other.node().equals(self.node())) {
                peers.putObject(other.node()).put("address", other.address())
                        .put("certificate", p + InstanceSecrets.peerCertificate(other.node()))
                        .put("token-file", p + InstanceSecrets.peerToken(other.node()))
                        .put("channel-port", request.channelPort());
            }
        }
        return root;
    }

    /** {@code host:port}, an IPv6 literal in brackets. */
    static String hostPort(NodeAddress n, int port) {
        return (n.ip() && n.address().contains(":") ? "[" + n.address() + "]" : n.address()) + ":" + port;
    }

    static String text(ObjectNode fragment) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(fragment) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("a tree of strings and numbers always serializes", e);
        }
    }
}

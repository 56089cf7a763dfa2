package io.resilientkvm.engine.secret;

import java.util.List;

/**
 * The {@code zoo.cfg} lines that turn on TLS for the ZooKeeper server on one node's host: the
 * secure client port on the node's address (Netty; the plain {@code clientPort} line should then
 * be removed), client certificates required and trusted through the instance CA (PKIX), TLS
 * between the servers of the ensemble too ({@code sslQuorum}), passwords read from files, and
 * the digest super user's hash (the operator's recovery identity; its password stays with the CA).
 * ZooKeeper turns unknown {@code zoo.cfg} keys into {@code zookeeper.}-prefixed system properties,
 * which is how its TLS settings and the super digest are read.
 */
final class ZooKeeperServerTls {
    private ZooKeeperServerTls() {
    }

    static String zooCfg(SecretsRequest request, NodeAddress node, String superDigest) {
        String dir = request.zookeeperDir();
        String keystore = dir + "/" + InstanceSecrets.ZK_SERVER_KEYSTORE;
        String truststore = dir + "/" + InstanceSecrets.ZK_SERVER_TRUSTSTORE;
        StringBuilder cfg = new StringBuilder();
        cfg.append("# TLS of the ZooKeeper server on ").append(node.node()).append("'s host (").append(node.address())
                .append("), instance ").append(request.instance()).append(", written by bin/node secrets.\n")
                .append("# Add these lines to that server's zoo.cfg, remove its clientPort line, and copy this folder to ")
                .append(dir).append(" (owned by the ZooKeeper user, mode 700, files 600). See docs/deployment.md.\n");
        for (String line : List.of(
                "secureClientPort=" + request.zookeeperPort(),
                "secureClientPortAddress=" + node.address(),
                "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
                "ssl.keyStore.location=" + keystore,
                "ssl.keyStore.passwordPath=" + keystore + ".password",
                "ssl.keyStore.type=PKCS12",
                "ssl.trustStore.location=" + truststore,
                "ssl.trustStore.passwordPath=" + truststore + ".password",
                "ssl.trustStore.type=PKCS12",
                "ssl.clientAuth=need",
                "sslQuorum=true",
                "ssl.quorum.keyStore.location=" + keystore,
                "ssl.quorum.keyStore.passwordPath=" + keystore + ".password",
                "ssl.quorum.keyStore.type=PKCS12",
                "ssl.quorum.trustStore.location=" + truststore,
                "ssl.quorum.trustStore.passwordPath=" + truststore + ".password",
                "ssl.quorum.trustStore.type=PKCS12",
                "ssl.quorum.hostnameVerification=true",
                "DigestAuthenticationProvider.superDigest=" + superDigest)) {
            cfg.append(line).append('\n');
        }
        return cfg.toString();
    }
}

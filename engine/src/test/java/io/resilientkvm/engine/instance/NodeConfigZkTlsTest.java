package io.resilientkvm.engine.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.resilientkvm.engine.zk.ZkTlsStores;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code zookeeper.tls} into the ZooKeeper settings: the client keystore defaults to the node's {@code tls} identity. */
class NodeConfigZkTlsTest {
    @TempDir
    Path dir;

    private NodeConfig load(String zkTls, String tls) throws Exception {
        return NodeConfig.load(Files.writeString(dir.resolve("node.json"), """
                {"node": "node-a", "instance": "kvm1", "data-dir": "data", "parameters": "p.json",
                 "network": {"ipv4": "127.0.0.1"}, "vnc": {"listen": "unix"}, "qemu": {"accelerator": "auto"},
                 "zookeeper": {"connect": "198.18.0.1:2281", "tls": {"truststore": "s/ca.p12", "truststore-password-file": "s/ca.password"%s}}
                 %s}
                """.formatted(zkTls, tls)));
    }

    @Test
    void withoutItsOwnKeystoreTheClientCertificateIsTheNodesIdentity() throws Exception {
        NodeConfig c = load("", ", \"tls\": {\"keystore\": \"s/node.p12\", \"keystore-password-file\": \"s/node.password\"}");
        assertEquals(Optional.of(new ZkTlsStores(dir.resolve("s/ca.p12"), dir.resolve("s/ca.password"),
                Optional.of(dir.resolve("s/node.p12")), Optional.of(dir.resolve("s/node.password")), "tls.keystore",
                "tls.keystore-password-file")), c.zkSettings().tls());
    }

    @Test
    void itsOwnKeystoreWins() throws Exception {
        NodeConfig c = load(", \"keystore\": \"s/zk.p12\", \"keystore-password-file\": \"s/zk.password\"",
                ", \"tls\": {\"keystore\": \"s/node.p12\", \"keystore-password-file\": \"s/node.password\"}");
        assertEquals(Optional.of(new ZkTlsStores(dir.resolve("s/ca.p12"), dir.resolve("s/ca.password"),
                Optional.of(dir.resolve("s/zk.p12")), Optional.of(dir.resolve("s/zk.password")))), c.zkSettings().tls());
    }

    @Test
    void withNeitherNoClientCertificateIsPresentedAndWithoutZookeeperTlsTheClientIsPlain() throws Exception {
        assertEquals(Optional.of(Optional.empty()), load("", "").zkSettings().tls().map(ZkTlsStores::keystore));
        Files.writeString(dir.resolve("plain.json"), """
                {"node": "node-a", "instance": "kvm1", "data-dir": "data", "parameters": "p.json",
                 "network": {"ipv4": "127.0.0.1"}, "vnc": {"listen": "unix"}, "qemu": {"accelerator": "auto"},
                 "zookeeper": {"connect": "198.18.0.1:2181"}}
                """);
        assertEquals(Optional.empty(), NodeConfig.load(dir.resolve("plain.json")).zkSettings().tls());
    }
}

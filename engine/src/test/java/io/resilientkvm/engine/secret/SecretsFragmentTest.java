package io.resilientkvm.engine.secret;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.backup.TlsContexts;
import io.resilientkvm.engine.instance.NodeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node's {@code node-config.secrets.json} merged into a whole node configuration loads with
 * {@link NodeConfig#load}, its paths land on the written files, and every secret file passes
 * {@link SecretFiles} (and the stores {@link TlsContexts}, as the backup server and fetcher load them).
 */
class SecretsFragmentTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Path write(String prefix) throws Exception {
        Path out = dir.resolve("out");
        InstanceSecrets.generate(SecretsRequest.of("kvm1", List.of(NodeAddress.parse("node-a=198.18.0.1"),
                NodeAddress.parse("node-b=198.18.0.2"), NodeAddress.parse("node-c=fe80::3")), 8555, 2281, "/etc/zookeeper/tls",
                prefix), Clock.system(ZoneOffset.UTC)).writeTo(out, "--out");
        return out;
    }

    /** The fragment with the fields every node configuration has besides its secrets. */
    private static Path config(Path fragment, Path configFile) throws Exception {
        ObjectNode c = (ObjectNode) JSON.readTree(fragment.toFile());
        c.put("node", "node-a").put("instance", "kvm1").put("data-dir", "data").put("parameters", "params.json")
                .put("software-type", "kvm-resilient");
        Files.writeString(configFile, JSON.writeValueAsString(c));
        return configFile;
    }

    @Test
    void theFragmentInTheNodesFolderLoadsAndNamesEveryWrittenSecret() throws Exception {
        Path a = write("").resolve("node-a");
        NodeConfig c = NodeConfig.load(config(a.resolve(InstanceSecrets.FRAGMENT), a.resolve("node.json")));
        checkLoaded(c, a);
    }

    @Test
    void withAPrefixTheConfigurationLiesBesideTheNodesFolder() throws Exception {
        Path out = write("secrets/");
        Path host = Files.createDirectory(dir.resolve("host-a"));
        Files.move(out.resolve("node-a"), host.resolve("secrets"));
        NodeConfig c = NodeConfig.load(config(host.resolve("secrets").resolve(InstanceSecrets.FRAGMENT), host.resolve("node.json")));
        checkLoaded(c, host.resolve("secrets"));
    }

    private static void checkLoaded(NodeConfig c, Path folder) throws Exception {
        assertEquals(Optional.of(new NodeConfig.Identity(folder.resolve("node.p12"), folder.resolve("node.p12.password"))), c.tls());
        assertEquals(Optional.of(new NodeConfig.PeerChannel("198.18.0.1", 8555)), c.peerChannel());
        assertEquals(Optional.of(folder.resolve("token")), c.backupServer().tokenFile());
        assertEquals("198.18.0.1:2281,198.18.0.2:2281,[fe80::3]:2281", c.zookeeper().connect());
        assertEquals(Optional.of(new NodeConfig.ZkTls(folder.resolve("ca.p12"), folder.resolve("ca.p12.password"), Optional.empty(),
                Optional.empty())), c.zookeeper().tls());
        // NodeConfig.load read both ZooKeeper secrets through ZkAccess.read (private files, one line each).
        assertTrue(c.zookeeper().access().isPresent());
        assertEquals("node-kvm1/node-a", c.zookeeper().access().orElseThrow().nodeUser());
        assertEquals(java.util.Set.of("node-b", "node-c"), c.peers().keySet());
        assertEquals(new NodeConfig.Peer("198.18.0.2", Optional.of(folder.resolve("peers/node-b.crt")), Optional.empty(),
                Optional.of(folder.resolve("peers/node-b.token")), OptionalInt.of(8555)), c.peers().get("node-b"));
        assertEquals("fe80::3", c.peers().get("node-c").address());

        SecretFiles.readSecret(c.tls().orElseThrow().keystorePasswordFile(), "tls.keystore-password-file");
        SecretFiles.readToken(c.backupServer().tokenFile().orElseThrow(), "backup-server.token-file");
        SecretFiles.readSecret(c.zookeeper().tls().orElseThrow().truststorePasswordFile(), "zookeeper.tls.truststore-password-file");
        for (NodeConfig.Peer p : c.peers().values()) {
            SecretFiles.readToken(p.tokenFile().orElseThrow(), "peers.token-file");
            SecretFiles.requirePrivate(p.certificate().orElseThrow(), "peers.certificate");
            assertTrue(Files.readString(p.certificate().orElseThrow()).startsWith("-----BEGIN CERTIFICATE-----"));
        }
        TlsContexts.serving(c.tls().orElseThrow().keystore(), c.tls().orElseThrow().keystorePasswordFile());
        TlsContexts.trusting(c.zookeeper().tls().orElseThrow().truststore(),
                c.zookeeper().tls().orElseThrow().truststorePasswordFile());
    }
}

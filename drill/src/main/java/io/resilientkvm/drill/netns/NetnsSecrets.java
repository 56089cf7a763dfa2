package io.resilientkvm.drill.netns;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.secret.InstanceCa;
import io.resilientkvm.engine.secret.InstanceSecrets;
import io.resilientkvm.engine.secret.NodeAddress;
import io.resilientkvm.engine.secret.PreviousSecrets;
import io.resilientkvm.engine.secret.SecretFiles;
import io.resilientkvm.engine.secret.SecretsRequest;
import io.resilientkvm.engine.zk.ZkAccess;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkTlsStores;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The one place where the namespace bed makes its nodes' secrets: the engine's generator (the code
 * of {@code bin/node secrets}, called in-process) writes {@code DIR/NODE/} per node, whose
 * {@code node-config.secrets.json} fragment (TLS identity, own token, pinned peers with per-clone
 * tokens and channel ports, peer channel, ZooKeeper connect, digest secrets and TLS) is merged
 * into that node's configuration, with its paths made absolute. Each host's ZooKeeper server reads
 * its {@code NODE/zookeeper/} folder ({@link #zookeeperServerConfig}). The operator (the drill's
 * own client) gets a certificate of the instance CA and the instance's digest identity.
 *
 * @param dir the folder the generator wrote
 * @param addresses per node (in host order), the address it is reached at
 * @param fragments per node, what its configuration gets (paths absolute)
 * @param instancePassword the instance identity's password, for the operator's client
 * @param operatorTls the operator's ZooKeeper TLS stores (its own certificate, the CA as truststore)
 */
public record NetnsSecrets(Path dir, Map<String, String> addresses, Map<String, ObjectNode> fragments,
        String instancePassword, ZkTlsStores operatorTls) {
    public static final String FRAGMENT = InstanceSecrets.FRAGMENT;
    public static final int ZOOKEEPER_PORT = SecretsRequest.DEFAULT_ZOOKEEPER_PORT;
    public static final int CHANNEL_PORT = SecretsRequest.DEFAULT_CHANNEL_PORT;
    public static final String OPERATOR = "operator";
    /**
     * What the generator is told as every ZooKeeper server's folder. The hosts share one file
     * system, so each server instead reads its own node's folder: {@link #zookeeperServerConfig}
     * puts that in place of this.
     */
    private static final String ZOOKEEPER_DIR = "/etc/zookeeper/tls";
    /** The fragment's fields that hold a path relative to the node's folder. */
    private static final Set<String> PATH_FIELDS = Set.of("keystore", "keystore-password-file", "truststore",
            "truststore-password-file", "token-file", "instance-secret-file", "node-secret-file", "certificate");

    public NetnsSecrets {
        addresses = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(addresses));
        fragments = Map.copyOf(fragments);
    }

    /**
     * Generates the secrets of {@code instance}'s nodes at {@code addresses} (in host order) into
     * {@code dir} (missing or empty), and an operator certificate for a client at {@code operatorAddress}.
     */
    public static NetnsSecrets create(Path dir, String instance, Map<String, String> addresses, String operatorAddress)
            throws IOException, OperatorException {
        List<NodeAddress> nodes = new ArrayList<>();
        for (Map.Entry<String, String> e : addresses.entrySet()) {
            nodes.add(new NodeAddress(e.getKey(), e.getValue()));
        }
        SecretsRequest request = SecretsRequest.of(instance, nodes, CHANNEL_PORT, ZOOKEEPER_PORT, ZOOKEEPER_DIR, "");
        InstanceSecrets.generate(request, Clock.systemUTC()).writeTo(dir, "the bed's secrets folder");
        ObjectMapper m = new ObjectMapper();
        Map<String, ObjectNode> fragments = new LinkedHashMap<>();
        for (String node : addresses.keySet()) {
            Path folder = dir.resolve(node);
            ObjectNode f = (ObjectNode) m.readTree(folder.resolve(FRAGMENT).toFile());
            absolute(f, folder);
            fragments.put(node, f);
        }
        String first = addresses.keySet().iterator().next();
        String instancePassword = SecretFiles.readSecret(dir.resolve(first).resolve(InstanceSecrets.ZK_INSTANCE_SECRET),
                "the bed's instance secret");
        ZkTlsStores operator = operatorIdentity(dir, instance, operatorAddress, dir.resolve(first));
        return new NetnsSecrets(dir, addresses, fragments, instancePassword, operator);
    }

    /**
     * The operator's certificate, issued by the instance CA (the ZooKeeper servers require a client
     * certificate they trust): {@code DIR/operator/operator.p12} and the CA's truststore beside it.
     * It is no node: no node pins it, so it reaches ZooKeeper but no backup server or peer channel.
     */
    private static ZkTlsStores operatorIdentity(Path dir, String instance, String address, Path trustFolder) throws IOException, OperatorException {
        InstanceCa ca = PreviousSecrets.read(dir, instance, "the bed's secrets folder").ca();
        Path folder = Files.createDirectories(dir.resolve(OPERATOR),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        SecureRandom random = new SecureRandom();
        String password = random();
        Path keystore = folder.resolve("operator.p12");
        try {
            KeyPair keys = InstanceCa.newKeyPair(random);
            X509Certificate cert = ca.issue(OPERATOR, new NodeAddress(OPERATOR, address), keys.getPublic(),
                    Clock.systemUTC().instant(), random);
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry(OPERATOR, keys.getPrivate(), password.toCharArray(), new X509Certificate[] {cert, ca.certificate()});
            try (OutputStream out = Files.newOutputStream(privateFile(keystore))) {
                ks.store(out, password.toCharArray());
            }
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot make the operator's certificate: " + e.getMessage(), e);
        }
        Path passwordFile = Files.writeString(privateFile(folder.resolve("operator.p12.password")), password + "\n");
        return new ZkTlsStores(trustFolder.resolve(InstanceSecrets.TRUSTSTORE),
                trustFolder.resolve(InstanceSecrets.TRUSTSTORE + ".password"), Optional.of(keystore), Optional.of(passwordFile));
    }

    /** The operator's ZooKeeper identities: the instance's (it reads everything) and one of its own, {@code operator}. */
    public ZkAccess operatorAccess(ZkLayout layout) {
        return new ZkAccess(layout, OPERATOR, instancePassword, random());
    }

    /** {@code node}'s ZooKeeper identities, as its agent has them. */
    public ZkAccess access(ZkLayout layout, String node) throws OperatorException {
        return ZkAccess.read(layout, node, dir.resolve(node).resolve(InstanceSecrets.ZK_INSTANCE_SECRET),
                dir.resolve(node).resolve(InstanceSecrets.ZK_NODE_SECRET));
    }

    /** {@code node}'s ZooKeeper TLS stores (its own certificate, the CA as truststore), as its agent has them. */
    public ZkTlsStores zkTls(String node) {
        Path folder = dir.resolve(node);
        return new ZkTlsStores(folder.resolve(InstanceSecrets.TRUSTSTORE), folder.resolve(InstanceSecrets.TRUSTSTORE + ".password"),
                Optional.of(folder.resolve(InstanceSecrets.NODE_KEYSTORE)),
                Optional.of(folder.resolve(InstanceSecrets.NODE_KEYSTORE + ".password")));
    }

    /** The ZooKeeper connect string of the nodes' fragments: every host's secure client port. */
    public String zookeeperConnect() {
        return fragments.values().iterator().next().path("zookeeper").path("connect").asText();
    }

    /**
     * The generator's {@code zoo-tls.cfg} lines for the ZooKeeper server on {@code node}'s host
     * (comments left out), reading its files from {@code DIR/NODE/zookeeper/}.
     */
    public List<String> zookeeperServerConfig(String node) throws IOException {
        Path folder = dir.resolve(node).resolve(InstanceSecrets.ZK_SERVER_FOLDER);
        List<String> lines = new ArrayList<>();
        for (String line : Files.readAllLines(folder.resolve(InstanceSecrets.ZK_SERVER_CONFIG), StandardCharsets.UTF_8)) {
            if (!line.isBlank() && !line.startsWith("#")) {
                lines.add(line.replace(ZOOKEEPER_DIR + "/", folder + "/"));
            }
        }
        return lines;
    }

    /** {@code into} with every field of {@code fragment} set, objects merged field by field. */
    public static void merge(ObjectNode into, ObjectNode fragment) {
        for (Map.Entry<String, JsonNode> e : fragment.properties()) {
            if (e.getValue().isObject() && into.path(e.getKey()).isObject()) {
                merge((ObjectNode) into.get(e.getKey()), (ObjectNode) e.getValue());
            } else {
                into.set(e.getKey(), e.getValue().deepCopy());
            }
        }
    }

    /** The fragment's paths, relative to the node's folder, made absolute (the node configs lie elsewhere). */
    private static void absolute(ObjectNode node, Path folder) {
        for (String field : List.copyOf(node.properties().stream().map(Map.Entry::getKey).toList())) {
            JsonNode value = node.get(field);
            if (value.isObject()) {
                absolute((ObjectNode) value, folder);
            } else if (value.isTextual() && PATH_FIELDS.contains(field)) {
                node.put(field, folder.resolve(value.asText()).toString());
            }
        }
    }

    private static Path privateFile(Path file) throws IOException {
        // Created private: never readable by others, not even for a moment.
        return Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    }

    private static String random() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}

package io.resilientkvm.drill.netns;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.zk.ZkAccess;
import io.resilientkvm.engine.zk.ZkLayout;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place where the namespace drill makes its nodes' secrets: per node a folder
 * {@code DIR/NODE/} with its files (mode 600) and {@code node-config.secrets.json}, the fragment
 * merged into that node's configuration. Today: the instance's and the node's ZooKeeper digest
 * passwords and one backup token shared by the three nodes. When {@code bin/node secrets} (TLS
 * identities, pinned peers, per-clone tokens) exists, it replaces {@link #create}: the fragments'
 * shape, and the merge in the drill, stay as they are.
 *
 * @param fragments per node, what its configuration gets (paths absolute)
 * @param instancePassword the instance identity's password, for the drill's own (operator) client
 */
public record NetnsSecrets(Map<String, ObjectNode> fragments, String instancePassword) {
    public static final String FRAGMENT = "node-config.secrets.json";

    public NetnsSecrets {
        fragments = Map.copyOf(fragments);
    }

    /** Writes the secrets of {@code nodes} under {@code dir}. */
    public static NetnsSecrets create(Path dir, List<String> nodes) throws IOException {
        String instancePassword = random();
        String token = random();
        ObjectMapper m = new ObjectMapper();
        Map<String, ObjectNode> fragments = new LinkedHashMap<>();
        for (String node : nodes) {
            Path folder = Files.createDirectories(dir.resolve(node),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            ObjectNode f = m.createObjectNode();
            f.putObject("zookeeper")
                    .put("instance-secret-file", secret(folder.resolve("zk-instance.secret"), instancePassword).toString())
                    .put("node-secret-file", secret(folder.resolve("zk-node.secret"), random()).toString());
            f.putObject("backup-server").put("token-file", secret(folder.resolve("backup.token"), token).toString());
            Files.writeString(folder.resolve(FRAGMENT), f.toPrettyString() + "\n", StandardCharsets.UTF_8);
            fragments.put(node, f);
        }
        return new NetnsSecrets(fragments, instancePassword);
    }

    /** The drill's own ZooKeeper identities: the instance's (it reads everything) and one of its own, {@code operator}. */
    public ZkAccess operatorAccess(ZkLayout layout) {
        return new ZkAccess(layout, "operator", instancePassword, random());
    }

    /** {@code into} with every field of {@code fragment} set, objects merged field by field. */
    public static void merge(ObjectNode into, ObjectNode fragment) {
        for (Map.Entry<String, com.fasterxml.jackson.databind.JsonNode> e : fragment.properties()) {
            if (e.getValue().isObject() && into.path(e.getKey()).isObject()) {
                merge((ObjectNode) into.get(e.getKey()), (ObjectNode) e.getValue());
            } else {
                into.set(e.getKey(), e.getValue().deepCopy());
            }
        }
    }

    private static Path secret(Path file, String value) throws IOException {
        // Created private: never readable by others, not even for a moment.
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, value + "\n", StandardCharsets.UTF_8);
        return file;
    }

    private static String random() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }
}

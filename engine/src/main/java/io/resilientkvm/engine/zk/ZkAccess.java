package io.resilientkvm.engine.zk;

import io.resilientkvm.engine.error.BadInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import io.resilientkvm.engine.secret.SecretFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.apache.curator.framework.AuthInfo;
import org.apache.curator.framework.api.ACLProvider;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * How one node of an instance authenticates to ZooKeeper and which ACLs it puts on what it
 * creates (docs/zookeeper-layout.md, "Access control"). Two digest identities:
 * <ul>
 *   <li>{@code instance-INSTANCE}, shared by the instance's nodes: ALL on every znode of the instance;
 *   <li>{@code node-INSTANCE/NODE}, this node's own: ALL on its member and importer-status znodes,
 *       where the instance identity gets READ only, so another node cannot rewrite them.
 * </ul>
 * ZooKeeper ACLs are per znode and not inherited: {@link #aclProvider()} gives Curator the ACL
 * of every create, recipes' nodes (locks) and parents made on the way included.
 */
public record ZkAccess(ZkLayout layout, String node, String instancePassword, String nodePassword) {

    public ZkAccess {
        Objects.requireNonNull(layout, "layout");
        ZkLayout.requireName("node", node);
        if (instancePassword == null || instancePassword.isBlank() || nodePassword == null || nodePassword.isBlank()) {
            throw new IllegalArgumentException("ZooKeeper passwords must not be empty");
        }
    }

    /**
     * Reads the two secrets (one line each; the file must not be readable by group or others).
     *
     * @throws BadInputException naming the file and what to do
     */
    public static ZkAccess read(ZkLayout layout, String node, Path instanceSecretFile, Path nodeSecretFile) throws BadInputException {
        return new ZkAccess(layout, node, secret(instanceSecretFile, "zookeeper.instance-secret-file"),
                secret(nodeSecretFile, "zookeeper.node-secret-file"));
    }

    /** Kept small and local on purpose (a shared secret-file reader is coming; the two will be merged). */
    static String secret(Path file, String setting) throws BadInputException {
        try {
            if (!Files.isRegularFile(file)) {
                throw new BadInputException(setting + ": " + file + " is not a file: create it with the secret on one line (mode 600)");
            }
            SecretFiles.requirePrivate(file, setting); // the one permission rule for every secret file
            String s = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (s.isEmpty() || s.contains("\n")) {
                throw new BadInputException(setting + ": " + file + " must hold the secret on one line, got "
                        + (s.isEmpty() ? "an empty file" : "several lines"));
            }
            return s;
        } catch (IOException e) {
            throw new BadInputException(setting + ": cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** The shared identity's user name. */
    public String instanceUser() {
        return "instance-" + layout.instance();
    }

    /** This node's own identity's user name. */
    public String nodeUser() {
        return "node-" + layout.instance() + "/" + node;
    }

    /** The digest ACL id of {@code user} with {@code password} (what ZooKeeper compares the session's identities with). */
    public static Id digestId(String user, String password) {
        try {
            return new Id("digest", DigestAuthenticationProvider.generateDigest(user + ":" + password));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA1 (needed by ZooKeeper's digest scheme)", e);
        }
    }

    public Id instanceId() {
        return digestId(instanceUser(), instancePassword);
    }

    public Id nodeId() {
        return digestId(nodeUser(), nodePassword);
    }

    /** The identities the client authenticates with, both on every (re)connection. */
    public List<AuthInfo> authInfos() {
        return List.of(auth(instanceUser(), instancePassword), auth(nodeUser(), nodePassword));
    }

    private static AuthInfo auth(String user, String password) {
        return new AuthInfo("digest", (user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /** ACL of the instance's znodes (and of anything else this client creates). */
    public List<ACL> instanceAcl() {
        return acl(new ACL(Perms.ALL, instanceId()));
    }

    /** ACL of this node's own member and importer-status znodes. */
    public List<ACL> ownAcl() {
        return acl(new ACL(Perms.ALL, nodeId()), new ACL(Perms.READ, instanceId()));
    }

    /**
     * ACL of the parents above the instance ({@code BASE}, {@code BASE/instances}), shared by every
     * instance on the ensemble: anyone may read them and create an instance below; only the
     * instance identity that created them may change or delete them.
     */
    public List<ACL> sharedParentAcl() {
        return acl(new ACL(Perms.ALL, instanceId()), new ACL(Perms.READ | Perms.CREATE, new Id("world", "anyone")));
    }

    /** ZooKeeper's validateACL calls contains(null), which List.of's lists refuse with an NPE. */
    private static List<ACL> acl(ACL... entries) {
        return Collections.unmodifiableList(new ArrayList<>(Arrays.asList(entries)));
    }

    /** The ACL this node puts on {@code path}. */
    public List<ACL> aclFor(String path) {
        String instance = layout.instancePath();
        if (path.equals(layout.memberPath(node)) || path.equals(layout.importerPath(node))) {
            return ownAcl();
        }
        if (path.equals(instance) || path.startsWith(instance + "/")) {
            return instanceAcl();
        }
        if (instance.startsWith(path + "/")) {
            return sharedParentAcl();
        }
        return instanceAcl();
    }

    /** Curator's provider: {@link #aclFor} on every create. */
    public ACLProvider aclProvider() {
        return new ACLProvider() {
            @Override
            public List<ACL> getDefaultAcl() {
                return instanceAcl();
            }

            @Override
            public List<ACL> getAclForPath(String path) {
                return aclFor(path);
            }
        };
    }

    @Override
    public String toString() {
        // Never the passwords: settings are logged.
        return "ZkAccess[" + instanceUser() + ", " + nodeUser() + "]";
    }
}

package io.resilientkvm.engine.secret;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * Every secret of one instance for its nodes ({@code bin/node secrets}), made in memory and then
 * written into a new folder at once ({@link #writeTo}): the instance CA, per node its key and
 * certificate, the CA as a truststore, its bearer token, the other nodes' pinned certificates and
 * tokens, the ZooKeeper digest secrets, the node-config fragment naming them, and what the
 * ZooKeeper server on its host needs for TLS. The layout is in docs/deployment.md, "Creating the
 * secrets"; {@code README.txt} in the folder repeats it with the fingerprints.
 */
public final class InstanceSecrets {
    /** The CA's folder, kept offline: its key signs new or renewed node certificates. */
    public static final String CA_FOLDER = "ca";
    public static final String CA_KEYSTORE = "ca.p12";
    /** The password of ZooKeeper's digest super user, kept with the CA. */
    public static final String ZK_SUPER_SECRET = "zk-super.secret";
    public static final String NODE_KEYSTORE = "node.p12";
    public static final String TRUSTSTORE = "ca.p12";
    public static final String CA_CERTIFICATE = "ca.crt";
    public static final String TOKEN = "token";
    public static final String ZK_INSTANCE_SECRET = "zk-instance.secret";
    public static final String ZK_NODE_SECRET = "zk-node.secret";
    public static final String FRAGMENT = "node-config.secrets.json";
    public static final String ZK_SERVER_FOLDER = "zookeeper";
    public static final String ZK_SERVER_KEYSTORE = "zookeeper.p12";
    public static final String ZK_SERVER_TRUSTSTORE = "ca.p12";
    public static final String ZK_SERVER_CONFIG = "zoo-tls.cfg";
    public static final String README = "README.txt";
    static final String PASSWORD_SUFFIX = ".password";

    /** One node's certificate and the ZooKeeper server's on its host. */
    public record NodeSecrets(NodeAddress node, X509Certificate certificate, X509Certificate zookeeperCertificate) {
        public NodeSecrets {
            Objects.requireNonNull(node, "node");
            Objects.requireNonNull(certificate, "certificate");
            Objects.requireNonNull(zookeeperCertificate, "zookeeperCertificate");
        }

        /** The SHA-256 fingerprint of the node's certificate, as {@code peers.NODE.fingerprint} takes it. */
        public String fingerprint() {
            return Fingerprints.sha256(certificate);
        }
    }

    private final SecretsRequest request;
    private final X509Certificate ca;
    private final List<NodeSecrets> nodes;
    private final SecretTree tree;
    private final SecureRandom random;

    private InstanceSecrets(SecretsRequest request, X509Certificate ca, List<NodeSecrets> nodes, SecretTree tree,
            SecureRandom random) {
        this.request = request;
        this.ca = ca;
        this.nodes = List.copyOf(nodes);
        this.tree = tree;
        this.random = random;
    }

    /**
     * Generates everything for {@code request} (nothing is written yet). {@code new SecureRandom()}
     * is the JDK's default (NativePRNG: the kernel's getrandom/urandom), which never blocks.
     */
    public static InstanceSecrets generate(SecretsRequest request, Clock clock) throws OperationFailedException {
        return generate(request, Optional.empty(), clock, new SecureRandom());
    }

    /**
     * As {@link #generate(SecretsRequest, Clock)}, keeping {@code previous}'s CA and ZooKeeper
     * passwords (renewal of every node's key, certificate and token; nodes it lacks are added).
     */
    public static InstanceSecrets generate(SecretsRequest request, PreviousSecrets previous, Clock clock)
            throws OperationFailedException {
        return generate(request, Optional.of(previous), clock, new SecureRandom());
    }

    static InstanceSecrets generate(SecretsRequest request, Optional<PreviousSecrets> previous, Clock clock, SecureRandom random)
            throws OperationFailedException {
        try {
            return make(request, previous, clock.instant(), random);
        } catch (GeneralSecurityException e) {
            throw new OperationFailedException("cannot make the secrets of instance " + request.instance() + ": "
                    + e.getMessage(), e);
        }
    }

    private static InstanceSecrets make(SecretsRequest request, Optional<PreviousSecrets> previous, Instant now,
            SecureRandom random) throws GeneralSecurityException {
        RandomSecrets secrets = new RandomSecrets(random);
        SecretTree tree = new SecretTree();
        InstanceCa ca = previous.isPresent() ? previous.get().ca() : InstanceCa.create(request.instance(), now, random);
        String caPassword = secrets.next();
        tree.add(CA_FOLDER + "/" + CA_KEYSTORE, SecretEncodings.keystore("ca", ca.keys().getPrivate(), caPassword.toCharArray(),
                ca.certificate()));
        tree.addLine(CA_FOLDER + "/" + CA_KEYSTORE + PASSWORD_SUFFIX, caPassword);
        String caPem = SecretEncodings.pem(ca.certificate());
        tree.add(CA_FOLDER + "/" + CA_CERTIFICATE, caPem);
        String superPassword = previous.map(PreviousSecrets::superPassword).orElseGet(secrets::next);
        tree.addLine(CA_FOLDER + "/" + ZK_SUPER_SECRET, superPassword);
        String superDigest = DigestAuthenticationProvider.generateDigest("super:" + superPassword);

        // The truststore holds only the CA's certificate: its password guards its integrity, not a secret.
        String trustPassword = secrets.next();
        byte[] truststore = SecretEncodings.truststore("ca", ca.certificate(), trustPassword.toCharArray());
        String zkInstance = previous.map(PreviousSecrets::zkInstancePassword).orElseGet(secrets::next);
        Map<String, String> tokens = new LinkedHashMap<>();
        Map<String, X509Certificate> certificates = new LinkedHashMap<>();
        List<NodeSecrets> made = new ArrayList<>();
        Map<String, KeyPair> keys = new LinkedHashMap<>();
        for (NodeAddress n : request.nodes()) {
            KeyPair k = InstanceCa.newKeyPair(random);
            keys.put(n.node(), k);
            certificates.put(n.node(), ca.issue(n.node(), n, k.getPublic(), now, random));
            tokens.put(n.node(), secrets.next());
        }
        for (NodeAddress n : request.nodes()) {
            String d = n.node() + "/";
            X509Certificate cert = certificates.get(n.node());
            String keyPassword = secrets.next();
            tree.add(d + NODE_KEYSTORE, SecretEncodings.keystore(n.node(), keys.get(n.node()).getPrivate(),
                    keyPassword.toCharArray(), cert, ca.certificate()));
            tree.addLine(d + NODE_KEYSTORE + PASSWORD_SUFFIX, keyPassword);
            tree.add(d + TRUSTSTORE, truststore);
            tree.addLine(d + TRUSTSTORE + PASSWORD_SUFFIX, trustPassword);
            tree.add(d + CA_CERTIFICATE, caPem);
            tree.addLine(d + TOKEN, tokens.get(n.node()));
            for (NodeAddress other : request.nodes()) {
                if (!other.node().equals(n.node())) {
                    tree.add(d + peerCertificate(other.node()), SecretEncodings.pem(certificates.get(other.node())));
                    tree.addLine(d + peerToken(other.node()), tokens.get(other.node()));
                }
            }
            tree.addLine(d + ZK_INSTANCE_SECRET, zkInstance);
            tree.addLine(d + ZK_NODE_SECRET, previous.map(p -> p.zkNodePasswords().get(n.node())).orElseGet(secrets::next));
            tree.add(d + FRAGMENT, NodeConfigFragment.text(NodeConfigFragment.of(request, n)));

            // The ZooKeeper server gets its own key: it runs as another user, who must not hold the node's identity.
            KeyPair zkKeys = InstanceCa.newKeyPair(random);
            X509Certificate zkCert = ca.issue(n.node() + " zookeeper", n, zkKeys.getPublic(), now, random);
            String zd = d + ZK_SERVER_FOLDER + "/";
            String zkPassword = secrets.next();
            tree.add(zd + ZK_SERVER_KEYSTORE, SecretEncodings.keystore("zookeeper", zkKeys.getPrivate(), zkPassword.toCharArray(),
                    zkCert, ca.certificate()));
            tree.addLine(zd + ZK_SERVER_KEYSTORE + PASSWORD_SUFFIX, zkPassword);
            tree.add(zd + ZK_SERVER_TRUSTSTORE, truststore);
            tree.addLine(zd + ZK_SERVER_TRUSTSTORE + PASSWORD_SUFFIX, trustPassword);
            tree.add(zd + ZK_SERVER_CONFIG, ZooKeeperServerTls.zooCfg(request, n, superDigest));
            made.add(new NodeSecrets(n, cert, zkCert));
        }
        tree.add(README, SecretsReadme.text(request, ca.certificate(), made));
        return new InstanceSecrets(request, ca.certificate(), made, tree, random);
    }

    /** {@code peers/NODE.crt}: NODE's certificate, pinned by the others. */
    public static String peerCertificate(String node) {
        return "peers/" + node + ".crt";
    }

    /** {@code peers/NODE.token}: the token NODE presents to this node's backup server. */
    public static String peerToken(String node) {
        return "peers/" + node + ".token";
    }

    /**
     * Writes every file into {@code out}, which must be missing or an empty folder (0700 folders,
     * 0600 files; all or nothing).
     *
     * @param option the command-line option naming {@code out}, for the messages
     */
    public void writeTo(Path out, String option) throws BadInputException, OperationFailedException {
        tree.writeNew(out, option, random);
    }

    /** Refuses an output that is neither missing nor an empty folder, before anything is generated. */
    public static void requireNewOrEmpty(Path out, String option) throws BadInputException {
        SecretTree.requireNewOrEmpty(out, option);
    }

    public SecretsRequest request() {
        return request;
    }

    /** The instance CA's certificate. */
    public X509Certificate ca() {
        return ca;
    }

    public List<NodeSecrets> nodes() {
        return nodes;
    }

    /** The files, relative to the output folder, in the order they are written. */
    public List<String> files() {
        return List.copyOf(tree.paths());
    }
}

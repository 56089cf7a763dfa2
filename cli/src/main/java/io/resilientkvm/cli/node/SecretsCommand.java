package io.resilientkvm.cli.node;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.engine.secret.Fingerprints;
import io.resilientkvm.engine.secret.InstanceSecrets;
import io.resilientkvm.engine.secret.InstanceSecrets.NodeSecrets;
import io.resilientkvm.engine.secret.NodeAddress;
import io.resilientkvm.engine.secret.PreviousSecrets;
import io.resilientkvm.engine.secret.SecretsRequest;
import java.nio.file.Path;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bin/node secrets}: every secret of one instance for its nodes, in per-node folders. */
@Command(name = "secrets", mixinStandardHelpOptions = true, versionProvider = io.resilientkvm.cli.Version.class,
        description = {"Creates every secret of one instance for its nodes in a new folder: a small instance CA (kept offline),",
                "per node its key and certificate (subjectAltName its address), truststore, bearer token, the other nodes'",
                "pinned certificates and tokens, the ZooKeeper digest secrets, the node-configuration fragment naming them,",
                "and the TLS files and zoo.cfg lines of the ZooKeeper server on its host. Folders 0700, files 0600.",
                "Prints each node's certificate fingerprint. A folder that is not empty is refused (exit 2): nothing is",
                "ever overwritten. See docs/deployment.md, \"Creating the secrets\"."})
public final class SecretsCommand extends CliCommand {
    private static final DateTimeFormatter DAY = DateTimeFormatter.ISO_LOCAL_DATE.withZone(ZoneOffset.UTC);

    @Option(names = "--instance", required = true, paramLabel = "NAME", description = "the instance's name (its 'instance' in the node configurations)")
    String instance;

    @Option(names = "--node", required = true, paramLabel = "NAME=ADDRESS",
            description = "a node and the IP or DNS name the others reach it at; repeat for every node (usually three)")
    List<String> nodes;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "a new or empty folder to write into")
    Path out;

    @Option(names = "--channel-port", paramLabel = "PORT", defaultValue = "" + SecretsRequest.DEFAULT_CHANNEL_PORT,
            description = "the peer-channel port of every node (default ${DEFAULT-VALUE})")
    int channelPort;

    @Option(names = "--zookeeper-port", paramLabel = "PORT", defaultValue = "" + SecretsRequest.DEFAULT_ZOOKEEPER_PORT,
            description = "the secure client port of the ZooKeeper server on each node's host (default ${DEFAULT-VALUE})")
    int zookeeperPort;

    @Option(names = "--zookeeper-dir", paramLabel = "DIR", defaultValue = SecretsRequest.DEFAULT_ZOOKEEPER_DIR,
            description = "where each host's ZooKeeper server gets its zookeeper/ folder (named in zoo.cfg; default ${DEFAULT-VALUE})")
    String zookeeperDir;

    @Option(names = "--path-prefix", paramLabel = "PREFIX", defaultValue = "",
            description = "the node's folder relative to its configuration file, put before every path of the fragment (e.g. secrets/)")
    String pathPrefix;

    @Option(names = "--from", paramLabel = "OLD_DIR",
            description = {"an earlier output of this command for this instance (with its ca/ folder): keep its CA and ZooKeeper",
                    "passwords, make every node's key, certificate and token anew, add the nodes it lacks (renew, add a node)"})
    Path from;

    @Option(names = "--json", description = "machine-readable result")
    boolean json;

    @Override
    protected ExitStatus execute() throws Exception {
        List<NodeAddress> parsed = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (String spec : nodes) {
            try {
                parsed.add(NodeAddress.parse(spec));
            } catch (BadInputException e) {
                problems.addAll(e.problems());
            }
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
        SecretsRequest request = SecretsRequest.of(instance, parsed, channelPort, zookeeperPort, zookeeperDir, pathPrefix);
        InstanceSecrets.requireNewOrEmpty(out, "--out"); // before any key is made
        InstanceSecrets secrets = from == null ? InstanceSecrets.generate(request, Clock.systemUTC())
                : InstanceSecrets.generate(request, PreviousSecrets.read(from, instance, "--from"), Clock.systemUTC());
        secrets.writeTo(out, "--out");
        Path dir = out.toAbsolutePath().normalize();
        print(json, jsonResult(secrets, dir), text(secrets, dir));
        return ExitStatus.OK;
    }

    private static String text(InstanceSecrets s, Path dir) {
        StringBuilder t = new StringBuilder();
        t.append("instance ").append(s.request().instance()).append(": secrets of ").append(s.nodes().size())
                .append(" nodes in ").append(dir).append(" (EC P-256 certificates, serverAuth and clientAuth)\n");
        for (NodeSecrets n : s.nodes()) {
            t.append(String.format("  %-12s %-8s %s, valid until %s%n  %-12s %s%n", n.node().node(), n.node().ip() ? "IP" : "DNS",
                    n.node().address(), DAY.format(n.certificate().getNotAfter().toInstant()), "", n.fingerprint()));
        }
        t.append(String.format("  %-12s %s, valid until %s%n  %-12s %s%n", "CA", s.ca().getSubjectX500Principal().getName(),
                DAY.format(s.ca().getNotAfter().toInstant()), "", Fingerprints.sha256(s.ca())));
        t.append("Copy each node's folder to its host (its zookeeper/ subfolder to ").append(s.request().zookeeperDir())
                .append(" there) and merge its ").append(InstanceSecrets.FRAGMENT)
                .append(" into its configuration;\nkeep ").append(dir.resolve(InstanceSecrets.CA_FOLDER))
                .append(" offline. What each file is: ").append(dir.resolve(InstanceSecrets.README));
        return t.toString();
    }

    private static ObjectNode jsonResult(InstanceSecrets s, Path dir) {
        ObjectNode r = JSON.createObjectNode();
        r.put("instance", s.request().instance());
        r.put("out", dir.toString());
        r.putObject("ca").put("subject", s.ca().getSubjectX500Principal().getName())
                .put("not-after", s.ca().getNotAfter().toInstant().toString()).put("fingerprint", Fingerprints.sha256(s.ca()));
        ArrayNode ns = r.putArray("nodes");
        for (NodeSecrets n : s.nodes()) {
            ns.addObject().put("node", n.node().node()).put("address", n.node().address())
                    .put("folder", dir.resolve(n.node().node()).toString())
                    .put("not-after", n.certificate().getNotAfter().toInstant().toString()).put("fingerprint", n.fingerprint())
                    .put("zookeeper-fingerprint", Fingerprints.sha256(n.zookeeperCertificate()));
        }
        return r;
    }
}

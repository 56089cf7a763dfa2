package io.resilientkvm.engine.secret;

import io.resilientkvm.engine.secret.InstanceSecrets.NodeSecrets;
import java.security.cert.X509Certificate;
import java.time.format.DateTimeFormatter;
import java.time.ZoneOffset;
import java.util.List;

/** {@code README.txt} of a secrets folder: what each file is, which folder goes to which host, the fingerprints. */
final class SecretsReadme {
    private SecretsReadme() {
    }

    static String text(SecretsRequest request, X509Certificate ca, List<NodeSecrets> nodes) {
        String any = nodes.get(0).node().node();
        StringBuilder t = new StringBuilder();
        t.append("Secrets of resilient-kvm instance ").append(request.instance()).append(" (bin/node secrets; docs/deployment.md,\n")
                .append("\"Creating the secrets\"). Every file is secret unless marked public: copy with care, never to a shared place.\n\n")
                .append("Which folder goes where\n");
        for (NodeSecrets n : nodes) {
            t.append("  ").append(n.node().node()).append("/  to the host of ").append(n.node().node()).append(" (")
                    .append(n.node().address()).append("), readable only by the user running bin/node; its zookeeper/\n")
                    .append("  ").append(" ".repeat(n.node().node().length())).append("   subfolder to ")
                    .append(request.zookeeperDir()).append(" on that host, for the ZooKeeper server (owned by its user)\n");
        }
        t.append("  ca/  nowhere: keep it offline (it signs new and renewed node certificates; zk-super.secret is\n")
                .append("       ZooKeeper's digest super user, for repairs only)\n\n")
                .append("In each node's folder (NODE)\n")
                .append("  node.p12, node.p12.password  NODE's key and certificate (PKCS12), signed by the instance CA\n")
                .append("  ca.p12, ca.p12.password      truststore holding the CA certificate (ZooKeeper TLS; PKIX)\n")
                .append("  ca.crt                       the CA certificate, PEM (public)\n")
                .append("  token                        NODE's bearer token, presented when it fetches from the main\n")
                .append("  peers/OTHER.crt              OTHER's certificate, PEM (public), pinned: the only one trusted for OTHER\n")
                .append("  peers/OTHER.token            the token OTHER presents to NODE's backup server (replace it to revoke OTHER)\n")
                .append("  zk-instance.secret           the instance's ZooKeeper digest password (the same on every node)\n")
                .append("  zk-node.secret               NODE's own ZooKeeper digest password\n")
                .append("  node-config.secrets.json     the node-configuration fields naming these files (paths relative to the\n")
                .append("                               node's folder").append(request.pathPrefix().isEmpty() ? "" : ", behind '"
                        + request.pathPrefix() + "'").append("): merge them into NODE's configuration\n")
                .append("  zookeeper/                   zookeeper.p12 (+ .password): the ZooKeeper server's own key and certificate;\n")
                .append("                               ca.p12 (+ .password): its truststore; zoo-tls.cfg: the lines to add to its zoo.cfg\n\n")
                .append("Certificates (EC P-256, SHA256withECDSA; serverAuth and clientAuth)\n");
        DateTimeFormatter day = DateTimeFormatter.ISO_LOCAL_DATE.withZone(ZoneOffset.UTC);
        t.append("  CA   ").append(ca.getSubjectX500Principal().getName()).append(", valid until ")
                .append(day.format(ca.getNotAfter().toInstant())).append("\n       ").append(Fingerprints.sha256(ca)).append('\n');
        for (NodeSecrets n : nodes) {
            t.append("  ").append(n.node().node()).append("  subjectAltName ").append(n.node().ip() ? "IP " : "DNS ")
                    .append(n.node().address()).append(", valid until ").append(day.format(n.certificate().getNotAfter().toInstant()))
                    .append("\n       ").append(n.fingerprint()).append('\n')
                    .append("  ").append(n.node().node()).append("'s ZooKeeper server\n       ")
                    .append(Fingerprints.sha256(n.zookeeperCertificate())).append('\n');
        }
        t.append("\nCheck a fingerprint on a host: openssl x509 -in ").append(any).append("/peers/OTHER.crt -noout -fingerprint -sha256\n");
        return t.toString();
    }
}

package io.resilientkvm.engine.tls;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.instance.NodeConfig;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Trust by pinning: exactly the certificates configured for the instance's other nodes
 * ({@code peers.NODE.certificate} or {@code peers.NODE.fingerprint}), each known by its node's
 * name, and nothing else, as a server and as a client. No CA and no host name is consulted: the
 * pinned key is the identity, and the address a node is reached at is checked separately against
 * {@code peers.NODE.address}.
 */
public final class PinnedTrust {
    /** No node pinned: trusts nothing. */
    public static final PinnedTrust NONE = new PinnedTrust(Map.of());

    private final Map<Fingerprint, String> nodes;

    private PinnedTrust(Map<Fingerprint, String> nodes) {
        this.nodes = Map.copyOf(nodes);
    }

    /** The pinned peers of {@code peers}; those without a certificate or fingerprint are not trusted at all. */
    public static PinnedTrust of(Map<String, NodeConfig.Peer> peers) throws BadInputException {
        Map<Fingerprint, String> nodes = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, NodeConfig.Peer> e : peers.entrySet()) {
            String node = e.getKey();
            NodeConfig.Peer p = e.getValue();
            try {
                Optional<Fingerprint> f = p.certificate().isPresent() ? Optional.of(Fingerprint.of(readPem(p.certificate().get())))
                        : p.fingerprint().map(Fingerprint::parse);
                if (f.isPresent()) {
                    String other = nodes.putIfAbsent(f.get(), node);
                    if (other != null) {
                        problems.add("peers." + node + " and peers." + other + " pin the same certificate " + f.get()
                                + ": every node needs its own (bin/node secrets makes one per node)");
                    }
                }
            } catch (BadInputException ex) {
                problems.add("peers." + node + ".certificate: " + ex.getMessage());
            } catch (IllegalArgumentException ex) {
                problems.add("peers." + node + ".fingerprint: " + ex.getMessage());
            }
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
        return new PinnedTrust(nodes);
    }

    /** Only {@code node}'s pinned certificate: what a clone trusts when it fetches from that main. */
    public PinnedTrust only(String node) {
        Map<Fingerprint, String> one = new LinkedHashMap<>();
        nodes.forEach((f, n) -> {
            if (n.equals(node)) {
                one.put(f, n);
            }
        });
        return new PinnedTrust(one);
    }

    /** The pinned certificates, by node name (what a server logs at start). */
    public Map<String, Fingerprint> pinned() {
        Map<String, Fingerprint> byNode = new java.util.TreeMap<>();
        nodes.forEach((f, n) -> byNode.put(n, f));
        return byNode;
    }

    /** True when no peer is pinned. */
    public boolean isEmpty() {
        return nodes.isEmpty();
    }

    /** The node whose pinned certificate {@code leaf} is. */
    public Optional<String> nodeOf(X509Certificate leaf) {
        return Optional.ofNullable(nodes.get(Fingerprint.of(leaf)));
    }

    /** A trust manager accepting exactly the pinned certificates (as the first of the chain presented). */
    public X509ExtendedTrustManager trustManager() {
        return new Manager();
    }

    /** Reads the first certificate of a PEM (or DER) file; a clear message when it is not one. */
    public static X509Certificate readPem(Path file) throws BadInputException {
        try (InputStream in = Files.newInputStream(file)) {
            Collection<? extends java.security.cert.Certificate> all = CertificateFactory.getInstance("X.509").generateCertificates(in);
            for (java.security.cert.Certificate c : all) {
                if (c instanceof X509Certificate x) {
                    return x;
                }
            }
            throw new BadInputException(file + " holds no certificate; give the PEM certificate of that node (bin/node secrets writes them"
                    + " under peers/)");
        } catch (IOException e) {
            throw new BadInputException("cannot read certificate " + file + ": " + e.getMessage(), e);
        } catch (CertificateException e) {
            throw new BadInputException(file + " is not a PEM certificate (" + e.getMessage() + ")", e);
        }
    }

    private final class Manager extends X509ExtendedTrustManager {
        private void check(X509Certificate[] chain, String side) throws CertificateException {
            if (chain == null || chain.length == 0) {
                throw new CertificateException("the " + side + " presented no certificate");
            }
            Fingerprint f = Fingerprint.of(chain[0]);
            if (!nodes.containsKey(f)) {
                throw new CertificateException("the " + side + "'s certificate " + f + " (" + chain[0].getSubjectX500Principal()
                        + ") is not pinned for " + (nodes.isEmpty() ? "any node" : "any of " + nodes.values())
                        + " in this node's peers.*.certificate / peers.*.fingerprint");
            }
            chain[0].checkValidity();
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            check(chain, "client");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            check(chain, "server");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            check(chain, "client");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
            check(chain, "server");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            check(chain, "client");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
            check(chain, "server");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}

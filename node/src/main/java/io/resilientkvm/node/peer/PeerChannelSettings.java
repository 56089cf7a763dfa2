package io.resilientkvm.node.peer;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.tls.PinnedTrust;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What the peer channel of one node needs, checked at load (see {@code docs/peer-channel.md}):
 * this node's name, instance and {@code tls} identity, {@code peer-channel.bind}/{@code port}, and
 * the other nodes with their pinned certificates and channel ports.
 *
 * @param peers the other nodes ({@code peers}), every one pinned and with a {@code channel-port}
 * @param trust exactly the pinned certificates of {@code peers}
 */
public record PeerChannelSettings(String node, String instance, String bind, int port, NodeConfig.Identity identity,
        Map<String, NodeConfig.Peer> peers, PinnedTrust trust, Limits limits) {

    /**
     * The channel's bounds. Server side: a request (head, body and handler) completes within
     * {@code requestTimeout} or its connection is closed; a connection without a byte either way
     * for {@code idleTimeout} is closed (a TLS handshake included); bodies above
     * {@code maxBodyBytes} are refused (413); at most {@code connections} connections in all;
     * per calling node at most {@code concurrentPerCaller} requests at once and
     * {@code requestsPerSecondPerCaller} a second (429 beyond). Client side: a TCP connect within
     * {@code connectTimeout}, a whole call within {@code requestTimeout}.
     */
    public record Limits(Duration connectTimeout, Duration requestTimeout, Duration idleTimeout, int maxBodyBytes,
            int connections, int concurrentPerCaller, int requestsPerSecondPerCaller) {
        public static final Limits DEFAULTS = new Limits(Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(30),
                64 * 1024, 32, 4, 50);

        public Limits {
            positive(connectTimeout, "connectTimeout");
            positive(requestTimeout, "requestTimeout");
            positive(idleTimeout, "idleTimeout");
            if (maxBodyBytes < 1 || connections < 1 || concurrentPerCaller < 1 || requestsPerSecondPerCaller < 1) {
                throw new IllegalArgumentException("peer channel limits must be at least 1: maxBodyBytes=" + maxBodyBytes
                        + ", connections=" + connections + ", concurrentPerCaller=" + concurrentPerCaller
                        + ", requestsPerSecondPerCaller=" + requestsPerSecondPerCaller);
            }
        }

        /** These limits with other timeouts (tests use short ones). */
        public Limits withTimeouts(Duration connect, Duration request) {
            return new Limits(connect, request, idleTimeout, maxBodyBytes, connections, concurrentPerCaller,
                    requestsPerSecondPerCaller);
        }

        /** These limits with another per-caller rate. */
        public Limits withRequestsPerSecondPerCaller(int perSecond) {
            return new Limits(connectTimeout, requestTimeout, idleTimeout, maxBodyBytes, connections, concurrentPerCaller,
                    perSecond);
        }

        private static void positive(Duration d, String name) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("peer channel " + name + " must be positive, not " + d);
            }
        }
    }

    public PeerChannelSettings {
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(instance, "instance");
        Objects.requireNonNull(bind, "bind");
        Objects.requireNonNull(identity, "identity");
        peers = Map.copyOf(peers);
        Objects.requireNonNull(trust, "trust");
        Objects.requireNonNull(limits, "limits");
    }

    /** These settings with other limits. */
    public PeerChannelSettings withLimits(Limits other) {
        return new PeerChannelSettings(node, instance, bind, port, identity, peers, trust, other);
    }

    /**
     * The peer channel of {@code config}, or empty when {@code peer-channel} is not set. The
     * channel is mutual TLS only, on any address (loopback included): it needs {@code tls} and at
     * least one peer, every peer pinned ({@code certificate} or {@code fingerprint}) and with its
     * {@code channel-port}. Each missing setting is one line of the bad input.
     */
    public static Optional<PeerChannelSettings> of(NodeConfig config) throws BadInputException {
        if (config.peerChannel().isEmpty()) {
            return Optional.empty();
        }
        NodeConfig.PeerChannel channel = config.peerChannel().get();
        List<String> problems = new ArrayList<>();
        if (config.tls().isEmpty()) {
            problems.add("peer-channel is set but tls is not: the peer channel is mutual TLS only (on loopback too); set"
                    + " tls.keystore and tls.keystore-password-file to this node's identity (bin/node secrets writes them),"
                    + " or remove peer-channel");
        }
        if (config.peers().isEmpty()) {
            problems.add("peer-channel is set but peers is empty: the peer channel serves only the instance's other nodes;"
                    + " set peers.NODE (address, certificate or fingerprint, channel-port) for each of them, or remove"
                    + " peer-channel");
        }
        config.peers().forEach((name, peer) -> {
            if (name.equals(config.node())) {
                problems.add("peers." + name + " is this node itself: list only the other nodes of the instance");
            }
            if (!peer.pinned()) {
                problems.add("peers." + name + " has no certificate or fingerprint: the peer channel trusts pinned nodes"
                        + " only; set peers." + name + ".certificate (its PEM) or peers." + name + ".fingerprint");
            }
            if (peer.channelPort().isEmpty()) {
                problems.add("peers." + name + ".channel-port is not set: the peer channel calls " + name + " there"
                        + " (its peer-channel.port)");
            }
        });
        PinnedTrust trust = null;
        try {
            trust = PinnedTrust.of(config.peers());
        } catch (BadInputException e) {
            problems.addAll(e.problems());
        }
        if (!problems.isEmpty()) {
            throw new BadInputException(problems);
        }
        return Optional.of(new PeerChannelSettings(config.node(), config.instance(), channel.bind(), channel.port(),
                config.tls().get(), config.peers(), trust, Limits.DEFAULTS));
    }
}

package io.resilientkvm.node.peer;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * Who sent a request on the peer channel: the node whose pinned certificate the TLS client
 * presented (the certificate is the credential; there is no token), and where from.
 */
public record PeerCaller(String node, InetSocketAddress remote) {
    public PeerCaller {
        Objects.requireNonNull(node, "node");
    }
}

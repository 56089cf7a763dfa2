package io.resilientkvm.node;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.instance.NodeConfig;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.Map;
import java.util.Optional;

/**
 * Where a main's backup server is announced, and which announced address a clone accepts
 * (docs/deployment.md). A wildcard bind is never turned into loopback for other hosts.
 */
final class Advertised {
    private Advertised() {
    }

    /** Refuses a wildcard bind without {@code backup-server.advertise}: other hosts could not be told where to fetch. */
    static void requireAdvertisable(NodeConfig.BackupServer cfg) throws BadInputException {
        if (cfg.advertise().isEmpty() && isWildcard(cfg.bind())) {
            throw new BadInputException("backup-server.bind is " + cfg.bind() + " (every address) but backup-server.advertise is not set: "
                    + "set advertise to the address the other nodes reach this one at, or bind to that address");
        }
    }

    /** The URL announced in the member znode: the advertised host with the bound scheme and port, else the bound URL. */
    static URI announce(NodeConfig.BackupServer cfg, URI bound) {
        return cfg.advertise().map(host -> URI.create(bound.getScheme() + "://" + bracketed(host) + ":" + bound.getPort())).orElse(bound);
    }

    /**
     * Why {@code announced} (the member znode of main {@code owner}) is not trusted, or empty when it
     * is: with {@code peers} configured, its host must be the owner's configured address. Without
     * peers (every node on one machine) any announced address is taken, as before.
     */
    static Optional<String> refusal(Map<String, NodeConfig.Peer> peers, String owner, URI announced) {
        if (peers.isEmpty()) {
            return Optional.empty();
        }
        NodeConfig.Peer peer = peers.get(owner);
        if (peer == null) {
            return Optional.of("the main " + owner + " is not among the peers of this node's configuration: not fetching from "
                    + announced + " (add peers." + owner + ".address if it belongs to this instance)");
        }
        String host = announced.getHost() == null ? "" : announced.getHost().replaceAll("^\\[|\\]$", "");
        if (!host.equalsIgnoreCase(peer.address())) {
            return Optional.of("the main " + owner + " announces " + announced + " in ZooKeeper, but this node's configuration trusts it at "
                    + peer.address() + " only: not fetching (check peers." + owner + ".address here and backup-server.advertise on "
                    + owner + "; someone may have written the member znode)");
        }
        return Optional.empty();
    }

    private static boolean isWildcard(String bind) {
        try {
            // Literals only: a host name is not looked up here (the server resolves it when binding).
            return (bind.contains(":") || bind.matches("[0-9.]+")) && InetAddress.getByName(bind).isAnyLocalAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static String bracketed(String host) {
        return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }
}

package io.resilientkvm.engine.zk;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * How to reach ZooKeeper.
 *
 * @param connectString   host:port[,host:port…]
 * @param sessionTimeout  how long the ensemble keeps the session of a silent client
 * @param connectTimeout  how long a start may wait for the first connection
 * @param trackEnsemble   false pins the client to the given servers (tests that simulate a partition)
 * @param access          the instance's credentials and ACLs; empty: no authentication, znodes open to all
 * @param tls             TLS to the servers' secure client ports; empty: plain TCP
 */
public record ZkSettings(String connectString, Duration sessionTimeout, Duration connectTimeout, boolean trackEnsemble,
        Optional<ZkAccess> access, Optional<ZkTlsStores> tls) {
    public static final Duration DEFAULT_SESSION_TIMEOUT = Duration.ofSeconds(15);

    public ZkSettings {
        Objects.requireNonNull(connectString, "connectString");
        if (connectString.isBlank()) {
            throw new IllegalArgumentException("ZooKeeper connection string is empty: give host:port[,host:port…]");
        }
        if (sessionTimeout.compareTo(Duration.ofSeconds(2)) < 0) {
            throw new IllegalArgumentException("ZooKeeper session timeout must be at least 2 s, got " + sessionTimeout.toMillis() + " ms");
        }
        if (connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("ZooKeeper connect timeout must be positive");
        }
        Objects.requireNonNull(access, "access");
        Objects.requireNonNull(tls, "tls");
    }

    public ZkSettings(String connectString, Duration sessionTimeout, Duration connectTimeout, boolean trackEnsemble) {
        this(connectString, sessionTimeout, connectTimeout, trackEnsemble, Optional.empty(), Optional.empty());
    }

    public static ZkSettings of(String connectString) {
        return new ZkSettings(connectString, DEFAULT_SESSION_TIMEOUT, Duration.ofSeconds(15), true);
    }

    public ZkSettings withSessionTimeout(Duration timeout) {
        return new ZkSettings(connectString, timeout, connectTimeout, trackEnsemble, access, tls);
    }

    public ZkSettings withTrackEnsemble(boolean track) {
        return new ZkSettings(connectString, sessionTimeout, connectTimeout, track, access, tls);
    }

    /** Authenticates with {@code access}'s identities and creates every znode with its ACLs. */
    public ZkSettings withAccess(ZkAccess access) {
        return new ZkSettings(connectString, sessionTimeout, connectTimeout, trackEnsemble, Optional.of(access), tls);
    }

    /** Connects through TLS with {@code stores} (the connection string then lists secure client ports). */
    public ZkSettings withTls(ZkTlsStores stores) {
        return new ZkSettings(connectString, sessionTimeout, connectTimeout, trackEnsemble, access, Optional.of(stores));
    }

    public ZkSettings withConnectTimeout(Duration timeout) {
        return new ZkSettings(connectString, sessionTimeout, timeout, trackEnsemble, access, tls);
    }
}

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
 */
public record ZkSettings(String connectString, Duration sessionTimeout, Duration connectTimeout, boolean trackEnsemble,
        Optional<ZkAccess> access) {
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
    }

    public ZkSettings(String connectString, Duration sessionTimeout, Duration connectTimeout, boolean trackEnsemble) {
        this(connectString, sessionTimeout, connectTimeout, trackEnsemble, Optional.empty());
    }

    public static ZkSettings of(String connectString) {
        return new ZkSettings(connectString, DEFAULT_SESSION_TIMEOUT, Duration.ofSeconds(15), true);
    }

    public ZkSettings withSessionTimeout(Duration timeout) {
        return new ZkSettings(connectString, timeout, connectTimeout, trackEnsemble, access);
    }

    public ZkSettings withTrackEnsemble(boolean track) {
        return new ZkSettings(connectString, sessionTimeout, connectTimeout, track, access);
    }

    /** Authenticates with {@code access}'s identities and creates every znode with its ACLs. */
    public ZkSettings withAccess(ZkAccess access) {
        return new ZkSettings(connectString, sessionTimeout, connectTimeout, trackEnsemble, Optional.of(access));
    }
}

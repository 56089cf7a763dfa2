package io.resilientkvm.engine.zk;

import java.time.Duration;
import java.util.Objects;

/**
 * How to reach ZooKeeper.
 *
 * @param connectString   host:port[,host:port…]
 * @param sessionTimeout  how long the ensemble keeps the session of a silent client
 * @param connectTimeout  how long a start may wait for the first connection
 * @param trackEnsemble   false pins the client to the given servers (tests that simulate a partition)
 */
public record ZkSettings(String connectString, Duration sessionTimeout, Duration connectTimeout, boolean trackEnsemble) {
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
    }

    public static ZkSettings of(String connectString) {
        return new ZkSettings(connectString, DEFAULT_SESSION_TIMEOUT, Duration.ofSeconds(15), true);
    }

    public ZkSettings withSessionTimeout(Duration timeout) {
        return new ZkSettings(connectString, timeout, connectTimeout, trackEnsemble);
    }

    public ZkSettings withTrackEnsemble(boolean track) {
        return new ZkSettings(connectString, sessionTimeout, connectTimeout, track);
    }
}

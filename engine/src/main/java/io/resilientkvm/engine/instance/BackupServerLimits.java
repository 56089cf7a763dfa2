package io.resilientkvm.engine.instance;

import java.time.Duration;
import java.util.Objects;

/**
 * What the main's backup server allows each client (the node configuration's
 * {@code backup-server.limits}), so that slow or hostile clients cannot starve replication.
 *
 * @param requestTimeout            a connection must deliver a complete request head this soon after it opened
 *                                  or after its previous response; else it is closed
 * @param idleTimeout               a connection on which no byte moves either way (an idle keep-alive, a
 *                                  response the client stopped reading) is closed after this long
 * @param connectionsPerAddress     open connections one client address may hold; more are closed at once
 * @param connections               open connections in all; beyond it the server stops accepting for a while
 * @param authFailuresBeforeBackoff failed authentications an address may make before its 401s are held back
 * @param authBackoffMax            the longest a 401 is held back (the hold doubles from 500 ms up to this)
 */
public record BackupServerLimits(Duration requestTimeout, Duration idleTimeout, int connectionsPerAddress,
        int connections, int authFailuresBeforeBackoff, Duration authBackoffMax) {
    public static final BackupServerLimits DEFAULTS = new BackupServerLimits(Duration.ofSeconds(10),
            Duration.ofSeconds(30), 8, 256, 5, Duration.ofSeconds(10));

    public BackupServerLimits {
        Objects.requireNonNull(requestTimeout, "requestTimeout");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(authBackoffMax, "authBackoffMax");
        if (requestTimeout.toMillis() < 100) {
            throw new IllegalArgumentException("backup-server.limits.request-timeout-ms must be at least 100, not "
                    + requestTimeout.toMillis());
        }
        if (idleTimeout.toMillis() < 100) {
            throw new IllegalArgumentException("backup-server.limits.idle-timeout-ms must be at least 100, not "
                    + idleTimeout.toMillis());
        }
        if (connectionsPerAddress < 1) {
            throw new IllegalArgumentException("backup-server.limits.connections-per-address must be at least 1, not "
                    + connectionsPerAddress);
        }
        if (connections < connectionsPerAddress) {
            throw new IllegalArgumentException("backup-server.limits.connections (" + connections
                    + ") must be at least connections-per-address (" + connectionsPerAddress + ")");
        }
        if (authFailuresBeforeBackoff < 0) {
            throw new IllegalArgumentException("backup-server.limits.auth-failures-before-backoff must be 0 or more, not "
                    + authFailuresBeforeBackoff);
        }
        if (authBackoffMax.isNegative()) {
            throw new IllegalArgumentException("backup-server.limits.auth-backoff-max-ms must be 0 or more, not "
                    + authBackoffMax.toMillis());
        }
        // A held 401 must reach the client before its connection counts as idle, or it would see a reset.
        if (authBackoffMax.compareTo(idleTimeout) >= 0) {
            throw new IllegalStateException("backup-server.limits.auth-backoff-max-ms (" + authBackoffMax.toMillis()
                    + ") must be below idle-timeout-ms (" + idleTimeout.toMillis() + ")");
        }
    }
}

package io.resilientkvm.engine.instance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code backup-server.limits} in the node configuration: defaults, values, and bad ones named. */
class NodeConfigLimitsTest {
    @TempDir
    Path dir;

    private NodeConfig load(String backupServer) throws Exception {
        Path f = Files.writeString(dir.resolve("node.json"), "{\"node\": \"n1\", \"data-dir\": \"d\", \"parameters\": \"p.json\","
                + " \"backup-server\": " + backupServer + "}");
        return NodeConfig.load(f);
    }

    @Test
    void absentLimitsAreTheDefaultsAndGivenOnesAreKept() throws Exception {
        assertEquals(BackupServerLimits.DEFAULTS, load("{}").backupServer().limits());
        BackupServerLimits l = load("{\"limits\": {\"request-timeout-ms\": 2000, \"idle-timeout-ms\": 9000,"
                + " \"connections-per-address\": 3, \"connections\": 40, \"auth-failures-before-backoff\": 1,"
                + " \"auth-backoff-max-ms\": 4000}}").backupServer().limits();
        assertEquals(new BackupServerLimits(Duration.ofSeconds(2), Duration.ofSeconds(9), 3, 40, 1, Duration.ofSeconds(4)), l);
        assertEquals(Duration.ofSeconds(30), load("{\"limits\": {\"request-timeout-ms\": 2000}}").backupServer().limits()
                .idleTimeout());
    }

    @Test
    void badLimitsAreBadInputNamingTheKey() throws Exception {
        BadInputException schema = assertThrows(BadInputException.class,
                () -> load("{\"limits\": {\"connections-per-address\": 0}}"));
        assertTrue(schema.getMessage().contains("connections-per-address"), schema.getMessage());
        assertThrows(BadInputException.class, () -> load("{\"limits\": {\"request-timeout\": 5}}"));
        BadInputException cross = assertThrows(BadInputException.class,
                () -> load("{\"limits\": {\"idle-timeout-ms\": 5000, \"auth-backoff-max-ms\": 5000}}"));
        assertTrue(cross.getMessage().contains("auth-backoff-max-ms") && cross.getMessage().contains("idle-timeout-ms"),
                cross.getMessage());
        BadInputException fewer = assertThrows(BadInputException.class,
                () -> load("{\"limits\": {\"connections-per-address\": 10, \"connections\": 5}}"));
        assertTrue(fewer.getMessage().contains("backup-server.limits.connections"), fewer.getMessage());
    }
}

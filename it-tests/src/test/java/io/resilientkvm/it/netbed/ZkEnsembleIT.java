package io.resilientkvm.it.netbed;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 3-server ZooKeeper ensemble across three namespaced hosts: clients on every host see the
 * same data; with one host's link down the other two keep quorum (the cut host's server stops
 * serving); when the link returns the cut host catches up.
 */
class ZkEnsembleIT {
    private static final Duration WAIT = Duration.ofSeconds(40);

    @TempDir
    Path dir;
    private NetBed bed;
    private ZkEnsemble ensemble;
    private final List<ShellClient> shells = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        NetBed.assumeAvailable();
        bed = NetBed.create(3);
        ensemble = ZkEnsemble.start(bed, dir);
        for (NetBed.Host h : bed.hosts()) {
            // Each client talks only to its own host's server, so a cut host's client is cut too.
            shells.add(ShellClient.start(bed, h, ZkEnsemble.connectString(h), List.of(), dir.resolve("shell-" + h.name() + ".log")));
        }
    }

    @AfterEach
    void tearDown() {
        shells.forEach(ShellClient::close);
        if (ensemble != null) {
            ensemble.close();
        }
        if (bed != null) {
            bed.close();
        }
    }

    @Test
    void theEnsembleKeepsQuorumWithOneHostCutAndHealsWhenItsLinkReturns() throws Exception {
        for (ShellClient s : shells) {
            // A server answers only once it is part of a quorum.
            await().atMost(WAIT).until(() -> s.send("get /zookeeper"), startsWith("OK"));
        }
        assertEquals("OK", shells.get(0).send("create /bed/data v1"));
        for (ShellClient s : shells) {
            await().atMost(WAIT).until(() -> s.send("get /bed/data"), equalTo("OK v1"));
        }

        bed.cut(bed.host(3));
        // The cut host's server leaves the quorum and refuses its client.
        await().atMost(WAIT).until(() -> shells.get(2).send("get /bed/data"), startsWith("ERR"));
        // h1 and h2 are a majority: writes go on (the first may meet an election in progress).
        await().atMost(WAIT).until(() -> shells.get(0).send("set /bed/data v2"), equalTo("OK"));
        await().atMost(WAIT).until(() -> shells.get(1).send("get /bed/data"), equalTo("OK v2"));
        assertEquals("OK", shells.get(1).send("create /bed/during-cut x"));

        bed.heal(bed.host(3));
        await().atMost(WAIT).until(() -> shells.get(2).send("get /bed/data"), equalTo("OK v2"));
        await().atMost(WAIT).until(() -> shells.get(2).send("get /bed/during-cut"), equalTo("OK x"));
        assertEquals("OK", shells.get(2).send("set /bed/data v3"));
        await().atMost(WAIT).until(() -> shells.get(0).send("get /bed/data"), equalTo("OK v3"));
    }
}

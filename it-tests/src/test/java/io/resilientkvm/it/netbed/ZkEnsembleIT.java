package io.resilientkvm.it.netbed;


import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.resilientkvm.drill.netns.NetBed;
import io.resilientkvm.drill.netns.NetnsSecrets;
import io.resilientkvm.drill.netns.ZkEnsemble;
import io.resilientkvm.engine.zk.ZkLayout;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 3-server ZooKeeper ensemble across three namespaced hosts: clients on every host see the
 * same data; with one host's link down the other two keep quorum (the cut host's server stops
 * serving); when the link returns the cut host catches up. With ACLs, a client without the
 * instance's credentials gets NoAuth from every server. TLS only (the secrets of
 * {@link NetnsSecrets}, one node per host): every client presents its host's certificate. One bed
 * and ensemble for the class.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ZkEnsembleIT {
    private static final Duration WAIT = Duration.ofSeconds(40);

    /** One directory for the class (the bed outlives each test). */
    @TempDir
    static Path dir;
    private NetBed bed;
    private ZkEnsemble ensemble;
    private NetnsSecrets secrets;
    private final List<ShellClient> shells = new ArrayList<>();

    @BeforeAll
    void startBed() throws Exception {
        assumeTrue(NetBed.isRoot(), NetBed.NEEDS_ROOT);
        bed = NetBed.create(3);
        Map<String, String> nodes = new LinkedHashMap<>();
        bed.hosts().forEach(h -> nodes.put(h.name(), h.address()));
        secrets = NetnsSecrets.create(dir.resolve("secrets"), "bed1", nodes, bed.host(3).address());
        ensemble = ZkEnsemble.start(bed, secrets, dir);
    }

    @BeforeEach
    void startShells() throws Exception {
        for (NetBed.Host h : bed.hosts()) {
            // Each client talks only to its own host's server, so a cut host's client is cut too.
            shells.add(ShellClient.start(bed, h, ZkEnsemble.connectString(h), secrets.zkTls(h.name()), List.of(), dir.resolve("shell-" + h.name() + ".log")));
        }
        for (ShellClient s : shells) {
            // A server answers only once it is part of a quorum.
            await().atMost(WAIT).until(() -> s.send("get /zookeeper"), startsWith("OK"));
        }
    }

    @AfterEach
    void stopShells() {
        shells.forEach(ShellClient::close);
        shells.clear();
    }

    @AfterAll
    void stopBed() {
        if (ensemble != null) {
            ensemble.close();
        }
        if (bed != null) {
            bed.close();
        }
    }

    @Test
    void theEnsembleKeepsQuorumWithOneHostCutAndHealsWhenItsLinkReturns() throws Exception {
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

    @Test
    void withAclsAClientWithoutTheInstancesCredentialsGetsNoAuthOnEveryHostAndTheInstanceGoesOn() throws Exception {
        ZkLayout layout = new ZkLayout(ZkLayout.DEFAULT_BASE, "bed1");
        try (ShellClient h1 = ShellClient.startNode(bed, bed.host(1), ZkEnsemble.connectString(bed.host(1)), secrets.zkTls("h1"),
                        secrets.access(layout, "h1"), dir.resolve("node-h1.log"));
                ShellClient h2 = ShellClient.startNode(bed, bed.host(2), ZkEnsemble.connectString(bed.host(2)), secrets.zkTls("h2"),
                        secrets.access(layout, "h2"), dir.resolve("node-h2.log"));
                ShellClient wrong = ShellClient.start(bed, bed.host(3), ensemble.connectString(), secrets.zkTls("h3"),
                        List.of("instance-bed1:not-the-password"), dir.resolve("wrong-h3.log"))) {
            assertEquals("OK 0", h1.send("epoch-init h1"));
            assertEquals("OK", h2.send("status 1"));
            String manifest = layout.manifestPath("virtio0", "c1", 0);
            assertEquals("OK", h1.send("create " + manifest + " m0"));
            assertEquals("OK", h1.send("create " + layout.fencedPath("h3") + " f"));

            String status = layout.importerPath("h2");
            for (ShellClient s : List.of(shells.get(0), shells.get(1), shells.get(2), wrong)) {
                assertEquals("ERR NOAUTH", s.send("set " + layout.epochPath() + " x"));
                assertEquals("ERR NOAUTH", s.send("set " + manifest + " x"));
                assertEquals("ERR NOAUTH", s.send("create " + layout.manifestPath("virtio0", "c1", 1) + " x"));
                assertEquals("ERR NOAUTH", s.send("delete " + layout.fencedPath("h3")));
                assertEquals("ERR NOAUTH", s.send("set " + status + " x"));
                assertEquals("ERR NOAUTH", s.send("delete " + status));
            }
            // Another node of the instance may read h2's status but not rewrite it.
            assertTrue(h1.send("get " + status).startsWith("OK {"));
            assertEquals("ERR NOAUTH", h1.send("set " + status + " x"));

            // The instance goes on: same epoch; h2 reports, h1 publishes, seen from the other host.
            assertEquals("OK 0 h1", h2.send("epoch"));
            assertEquals("OK", h2.send("status 2"));
            assertEquals("OK", h1.send("create " + layout.manifestPath("virtio0", "c1", 1) + " m1"));
            await().atMost(WAIT).until(() -> h2.send("get " + layout.manifestPath("virtio0", "c1", 1)), equalTo("OK m1"));
        }
    }
}

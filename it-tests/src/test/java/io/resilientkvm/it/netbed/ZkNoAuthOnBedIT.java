package io.resilientkvm.it.netbed;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.resilientkvm.drill.netns.NetBed;
import io.resilientkvm.drill.netns.NetnsSecrets;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkTlsStores;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13's "a ZooKeeper client without the instance's credentials cannot change the epoch, a
 * manifest, a fence or a status (NoAuth), and the instance keeps running", on the three-host bed
 * with TLS and ACLs on ({@link BedInstance}): clients on the nodes' hosts holding a valid client
 * certificate of the instance CA (so they connect), one without any digest identity and one with a
 * wrong instance password, try every write; each gets NoAuth; then the main's VM still runs, the
 * epoch is unchanged and the next backup reaches both clones. A client without a certificate the
 * servers trust cannot connect at all. One instance for the class, steps in order; its wall time is
 * logged. Root only.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ZkNoAuthOnBedIT {

    @TempDir
    static Path dir;
    private BedInstance instance;
    private ShellClient observer;
    private String[] first;

    @BeforeAll
    void start() throws Exception {
        assumeTrue(NetBed.isRoot(), NetBed.NEEDS_ROOT);
        instance = BedInstance.create(dir, "ZkNoAuthOnBedIT");
        instance.startAll();
        observer = instance.observer();
    }

    @AfterAll
    void stop() {
        if (instance != null) {
            instance.close();
        }
    }

    @Test
    @Order(1)
    void theSecuredInstanceRunsAndBothClonesImport() throws Exception {
        first = instance.nextBackupOnBothClones(observer, null);
        assertEquals("OK 0 node-a", observer.send("epoch"));
        assertTrue(instance.mainVm().isPresent(), "the main's VM runs");
    }

    @Test
    @Order(2)
    void clientsWithACertificateButWithoutTheInstancesCredentialsGetNoAuthForEveryWrite() throws Exception {
        ZkLayout l = instance.layout;
        String instanceUser = instance.secrets.operatorAccess(l).instanceUser();
        // With node-c's certificate and no identity at all; with node-b's and a wrong instance password.
        List<ShellClient> strangers = List.of(
                instance.stranger(instance.host("node-c"), instance.secrets.zkTls("node-c"), List.of(), "stranger-none"),
                instance.stranger(instance.host("node-b"), instance.secrets.zkTls("node-b"),
                        List.of(instanceUser + ":not-the-instance-password"), "stranger-wrong"));
        String manifest = first[0];
        for (ShellClient s : strangers) {
            Map<String, String> answers = new LinkedHashMap<>();
            answers.put("set epoch", s.send("set " + l.epochPath() + " {\"number\":7,\"owner\":\"mallory\"}"));
            answers.put("delete epoch", s.send("delete " + l.epochPath()));
            answers.put("set manifest", s.send("set " + manifest + " {}"));
            answers.put("delete manifest", s.send("delete " + manifest));
            answers.put("create manifest", s.send("create " + l.manifestPath(BedInstance.DEVICE, first[1],
                    Integer.parseInt(first[2]) + 100) + " {}"));
            answers.put("create fence", s.send("create " + l.fencedPath("node-a") + " mallory"));
            answers.put("set status", s.send("set " + l.importerPath("node-b") + " {}"));
            answers.put("delete status", s.send("delete " + l.importerPath("node-c")));
            answers.put("delete member", s.send("delete " + l.memberPath("node-a")));
            answers.put("create under the instance", s.send("create " + l.instancePath() + "/squat x"));
            answers.forEach((what, answer) -> assertEquals("ERR NOAUTH", answer, what + ": " + answers));
        }
    }

    @Test
    @Order(3)
    void theInstanceKeepsRunningAfterTheAttempts() throws Exception {
        assertEquals("OK 0 node-a", observer.send("epoch"));
        assertEquals("ERR NONODE", observer.send("get " + instance.layout.fencedPath("node-a")));
        Optional<Long> vm = instance.mainVm();
        assertTrue(vm.isPresent(), "the main's VM runs");
        // The next backup is published by the main and imported by both clones.
        String[] next = instance.nextBackupOnBothClones(observer, first);
        assertTrue(instance.mainVm().equals(vm), "the same VM still runs after " + next[0]);
    }

    @Test
    @Order(4)
    void aClientWithoutACertificateTheServersTrustCannotConnect() throws Exception {
        ZkTlsStores own = instance.secrets.zkTls("node-c");
        ShellClient none = instance.stranger(instance.host("node-c"),
                new ZkTlsStores(own.truststore(), own.truststorePasswordFile(), Optional.empty(), Optional.empty()), List.of(),
                "no-certificate");
        String refused = none.firstLine();
        assertTrue(refused.startsWith("ERR CONNECT") && refused.contains("refused this node's client certificate"), refused);

        // A certificate of another CA (an independent run of the generator), the right truststore.
        Map<String, String> addresses = new LinkedHashMap<>();
        BedInstance.NODES.forEach(n -> addresses.put(n, instance.host(n).address()));
        NetnsSecrets other = NetnsSecrets.create(dir.resolve("other-secrets"), BedInstance.INSTANCE, addresses,
                instance.host("node-c").address());
        ZkTlsStores foreign = other.zkTls("node-c");
        ShellClient stranger = instance.stranger(instance.host("node-c"), new ZkTlsStores(own.truststore(),
                own.truststorePasswordFile(), foreign.keystore(), foreign.keystorePasswordFile()), List.of(), "other-ca");
        String alsoRefused = stranger.firstLine();
        assertTrue(alsoRefused.startsWith("ERR CONNECT") && alsoRefused.contains("refused this node's client certificate"),
                alsoRefused);
    }
}

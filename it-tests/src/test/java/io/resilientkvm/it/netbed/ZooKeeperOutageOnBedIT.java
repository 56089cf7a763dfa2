package io.resilientkvm.it.netbed;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.resilientkvm.drill.netns.NetBed;
import io.resilientkvm.drill.netns.ZkEnsemble;
import io.resilientkvm.engine.backup.BackupManifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14's first must-show on the three-host bed ({@link BedInstance}: TLS, ACLs, the peer
 * channel, so fail-safe mode is on), backups every 5 s: the whole ensemble stopped for 5 s, then
 * for 60 s (past the 8 s session), then a rolling restart of its three servers. After each, the
 * main's VM is the same process, it never stopped or paused (its /proc state sampled every 100 ms
 * never T, the VM keeper logged no PAUSED), nothing is fenced, every backup in the main's
 * repository is published, and both clones import the newest. Each outage's length, the backups
 * taken meanwhile and the clones' catch-up time are logged. One instance, steps in order. Root only.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ZooKeeperOutageOnBedIT {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ZooKeeperOutageOnBedIT.class);
    private static final Duration POLL = Duration.ofMillis(200);

    @TempDir(cleanup = org.junit.jupiter.api.io.CleanupMode.ON_SUCCESS)
    static Path dir;
    private BedInstance instance;
    private ShellClient observer;
    /** One client per server, on that server alone: it answers only once its server is back in the quorum. */
    private final List<ShellClient> perServer = new ArrayList<>();
    private UnharmedMain main;

    @BeforeAll
    void start() throws Exception {
        assumeTrue(NetBed.isRoot(), NetBed.NEEDS_ROOT);
        instance = BedInstance.create(dir, "ZooKeeperOutageOnBedIT");
        // Backups every 5 s rather than the bed's 10 s, so even the 5-second outage spans one.
        Path params = dir.resolve("params.json");
        Files.writeString(params, Files.readString(params).replace("@every 10s", "@every 5s"));
        instance.startAll();
        observer = instance.observer();
        for (NetBed.Host h : instance.bed.hosts()) {
            perServer.add(ShellClient.startNode(instance.bed, instance.host("node-c"), ZkEnsemble.connectString(h),
                    instance.secrets.operatorTls(), instance.secrets.operatorAccess(instance.layout),
                    instance.log("observer-" + h.name())));
        }
    }

    @AfterAll
    void stop() {
        if (main != null) {
            main.close();
        }
        perServer.forEach(ShellClient::close);
        if (instance != null) {
            instance.close();
        }
    }

    @Test
    @Order(1)
    void theMainRunsInFailsafeModeAndBothClonesImport() throws Exception {
        // The VM's scheduler state from now on: stopped (T) or gone at any moment fails every later step.
        main = UnharmedMain.watchFailsafeMain(instance, observer);
    }

    @Test
    @Order(2)
    void theWholeEnsembleDownFiveSecondsStopsNothingAndLosesNoBackup() throws Exception {
        wholeEnsembleDown("5 s", Duration.ofSeconds(5), false);
    }

    @Test
    @Order(3)
    void theWholeEnsembleDownSixtySecondsPastTheSessionStopsNothingAndLosesNoBackup() throws Exception {
        wholeEnsembleDown("60 s", Duration.ofSeconds(60), true);
    }

    @Test
    @Order(4)
    void aRollingRestartOfTheThreeServersStopsNothingAndLosesNoBackup() throws Exception {
        List<BackupManifest> before = main.localBackups();
        long began = System.nanoTime();
        List<String> each = new ArrayList<>();
        for (int i = 0; i < instance.bed.hosts().size(); i++) {
            NetBed.Host h = instance.bed.hosts().get(i);
            ShellClient own = perServer.get(i);
            int backups = main.localBackups().size();
            long down = System.nanoTime();
            instance.ensemble.stop(h);
            // Down until the main took a backup without this server (two of three still make a quorum).
            await("a backup while " + h.name() + "'s server is down").atMost(BedInstance.WAIT).pollInterval(POLL)
                    .until(() -> main.localBackups().size() > backups);
            instance.ensemble.start(h);
            await(h.name() + "'s server back in the quorum").atMost(BedInstance.WAIT).pollInterval(Duration.ofMillis(500))
                    .until(() -> own.send("epoch"), "OK 0 node-a"::equals);
            each.add(h.name() + " " + millis(down) + " ms");
        }
        long back = System.nanoTime();
        LOG.info("Rolling restart: each server down until back in the quorum: {}; {} ms in all", each,
                (back - began) / 1_000_000);
        main.checkAfter("rolling restart", before, back);
    }

    /** The three servers stopped for {@code atLeast} (and past the main's session, if {@code pastSession}), then started. */
    private void wholeEnsembleDown(String what, Duration atLeast, boolean pastSession) throws Exception {
        List<BackupManifest> before = main.localBackups();
        int lostBefore = sessionsLost();
        long down = System.nanoTime();
        instance.bed.hosts().forEach(instance.ensemble::stop);
        await("the ensemble down " + what + " with a backup taken meanwhile").atMost(atLeast.plus(BedInstance.WAIT))
                .pollInterval(POLL).until(() -> System.nanoTime() - down >= atLeast.toNanos()
                        && main.localBackups().size() > before.size() && (!pastSession || sessionsLost() > lostBefore));
        for (NetBed.Host h : instance.bed.hosts()) {
            instance.ensemble.start(h);
        }
        long back = System.nanoTime();
        LOG.info("Whole ensemble down ({}): {} ms (session {} ms, suspend bound {} ms)", what, (back - down) / 1_000_000,
                BedInstance.SESSION.toMillis(), BedInstance.SUSPEND_BOUND.toMillis());
        main.checkAfter("ensemble down " + what, before, back);
    }

    /** How often the main logged its session lost and going on in fail-safe mode. */
    private int sessionsLost() throws Exception {
        return (int) instance.read("node-a").lines().filter(l -> l.contains("ZooKeeper session lost; fail-safe: running on")).count();
    }

    private static String millis(long since) {
        return String.format(Locale.ROOT, "%d", (System.nanoTime() - since) / 1_000_000);
    }
}

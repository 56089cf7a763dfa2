package io.resilientkvm.it.netbed;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.resilientkvm.drill.netns.NetBed;
import io.resilientkvm.drill.netns.ZkEnsemble;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
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
    private final List<String> stopped = new CopyOnWriteArrayList<>();
    private ScheduledExecutorService sampler;
    private long vm;

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
        if (sampler != null) {
            sampler.shutdownNow();
        }
        perServer.forEach(ShellClient::close);
        if (instance != null) {
            instance.close();
        }
    }

    @Test
    @Order(1)
    void theMainRunsInFailsafeModeAndBothClonesImport() throws Exception {
        instance.nextBackupOnBothClones(observer, null);
        assertTrue(instance.read("node-a").contains("fail-safe mode on"), "the main runs in fail-safe mode:\n"
                + instance.read("node-a"));
        vm = instance.mainVm().orElseThrow();
        // The VM's scheduler state, sampled from now on: T (stopped) at any moment fails every later step.
        Path stat = Path.of("/proc", Long.toString(vm), "stat");
        sampler = Executors.newSingleThreadScheduledExecutor();
        sampler.scheduleAtFixedRate(() -> {
            try {
                String s = Files.readString(stat);
                char state = s.charAt(s.lastIndexOf(')') + 2);
                if (state == 'T' || state == 't') {
                    stopped.add(java.time.Instant.now() + " " + s.strip());
                }
            } catch (java.io.IOException e) {
                stopped.add(java.time.Instant.now() + " gone: " + e);
            }
        }, 0, 100, TimeUnit.MILLISECONDS);
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
        List<BackupManifest> before = localBackups();
        long began = System.nanoTime();
        List<String> each = new ArrayList<>();
        for (int i = 0; i < instance.bed.hosts().size(); i++) {
            NetBed.Host h = instance.bed.hosts().get(i);
            ShellClient own = perServer.get(i);
            int backups = localBackups().size();
            long down = System.nanoTime();
            instance.ensemble.stop(h);
            // Down until the main took a backup without this server (two of three still make a quorum).
            await("a backup while " + h.name() + "'s server is down").atMost(BedInstance.WAIT).pollInterval(POLL)
                    .until(() -> localBackups().size() > backups);
            instance.ensemble.start(h);
            await(h.name() + "'s server back in the quorum").atMost(BedInstance.WAIT).pollInterval(Duration.ofMillis(500))
                    .until(() -> own.send("epoch"), "OK 0 node-a"::equals);
            each.add(h.name() + " " + millis(down) + " ms");
        }
        long back = System.nanoTime();
        LOG.info("Rolling restart: each server down until back in the quorum: {}; {} ms in all", each,
                (back - began) / 1_000_000);
        checkAfter("rolling restart", before, back);
    }

    /** The three servers stopped for {@code atLeast} (and past the main's session, if {@code pastSession}), then started. */
    private void wholeEnsembleDown(String what, Duration atLeast, boolean pastSession) throws Exception {
        List<BackupManifest> before = localBackups();
        int lostBefore = sessionsLost();
        long down = System.nanoTime();
        instance.bed.hosts().forEach(instance.ensemble::stop);
        await("the ensemble down " + what + " with a backup taken meanwhile").atMost(atLeast.plus(BedInstance.WAIT))
                .pollInterval(POLL).until(() -> System.nanoTime() - down >= atLeast.toNanos()
                        && localBackups().size() > before.size() && (!pastSession || sessionsLost() > lostBefore));
        for (NetBed.Host h : instance.bed.hosts()) {
            instance.ensemble.start(h);
        }
        long back = System.nanoTime();
        LOG.info("Whole ensemble down ({}): {} ms (session {} ms, suspend bound {} ms)", what, (back - down) / 1_000_000,
                BedInstance.SESSION.toMillis(), BedInstance.SUSPEND_BOUND.toMillis());
        checkAfter("ensemble down " + what, before, back);
    }

    /** How often the main logged its session lost and going on in fail-safe mode. */
    private int sessionsLost() throws Exception {
        return (int) instance.read("node-a").lines().filter(l -> l.contains("ZooKeeper session lost; fail-safe: running on")).count();
    }

    /**
     * After an outage that ended at {@code back}: every backup of the main's repository published,
     * both clones import the newest, the same VM ran throughout and nothing was fenced.
     */
    private void checkAfter(String what, List<BackupManifest> before, long back) throws Exception {
        List<BackupManifest> all = await(what + ": every backup of the main's repository published").atMost(BedInstance.WAIT)
                .pollInterval(Duration.ofMillis(500)).until(() -> {
                    List<BackupManifest> local = localBackups();
                    return unpublished(local).isEmpty() ? local : null;
                }, java.util.Objects::nonNull);
        long published = System.nanoTime();
        BackupManifest newest = all.stream().max(java.util.Comparator.comparing(BackupManifest::createdAt)).orElseThrow();
        for (String clone : List.of("node-b", "node-c")) {
            await(what + ": " + clone + " imports " + newest.chainId() + "/" + newest.sequence()).atMost(BedInstance.WAIT)
                    .pollInterval(Duration.ofMillis(500)).until(() -> observer.send("holds " + clone + " " + BedInstance.DEVICE + " "
                            + newest.chainId() + " " + newest.sequence()), "OK true"::equals);
        }
        LOG.info("{}: {} backup(s) taken since the outage began, all {} published {} ms after the return; both clones hold"
                + " {}/{} {} ms after the return", what, all.size() - before.size(), all.size(),
                (published - back) / 1_000_000, newest.chainId(), newest.sequence(), millis(back));

        assertEquals(List.of(), stopped, "the main's VM was never stopped (its /proc state)");
        assertEquals(vm, instance.mainVm().orElse(-1L), "the same VM runs");
        String keeper = Files.readString(instance.layout("node-a").vmKeeperLog());
        assertFalse(keeper.contains("PAUSED"), "the VM keeper never paused the VM:\n" + keeper);
        assertFalse(Files.exists(instance.layout("node-a").etc().resolve("fenced.json")), "nothing fenced");
        for (String node : BedInstance.NODES) {
            assertFalse(instance.read(node).contains("FENCING"), node + " logged no FENCING:\n" + instance.read(node));
        }
        assertEquals("OK 0 node-a", observer.send("epoch"), "the epoch unchanged");
        assertEquals("ERR NONODE", observer.send("get " + instance.layout.fencedPath("node-a")), "no fence znode");
    }

    /** The backups of {@code local} whose manifests are not in ZooKeeper. */
    private List<BackupManifest> unpublished(List<BackupManifest> local) throws Exception {
        List<BackupManifest> missing = new ArrayList<>();
        for (BackupManifest m : local) {
            if (!observer.send("get " + instance.layout.manifestPath(m.device(), m.chainId(), m.sequence())).startsWith("OK ")) {
                missing.add(m);
            }
        }
        return missing;
    }

    /** Every backup in the main's repository, oldest first. */
    private List<BackupManifest> localBackups() throws Exception {
        BackupRepository repo = new BackupRepository(instance.layout("node-a").backupRepository());
        List<BackupManifest> all = new ArrayList<>();
        for (String device : repo.devices()) {
            for (Chain c : repo.chains(device)) {
                all.addAll(c.backups());
            }
        }
        return all;
    }

    private static String millis(long since) {
        return String.format(Locale.ROOT, "%d", (System.nanoTime() - since) / 1_000_000);
    }
}

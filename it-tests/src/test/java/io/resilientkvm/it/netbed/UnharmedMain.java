package io.resilientkvm.it.netbed;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupRepository;
import io.resilientkvm.engine.backup.Chain;
import io.resilientkvm.engine.process.ProcStat;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Issue 14's "nothing stops" checks on a bed instance whose main, node-a, must come through a
 * failure untouched: from {@link #watch} on, its QEMU's /proc state is sampled every 100 ms
 * (stopped or gone at any moment is harm), and {@link #checkAfter} asserts, once the failure
 * ended, that every backup of the main's repository is published, both clones hold the newest,
 * and the same VM ran throughout, never paused by its keeper, with nothing fenced and the epoch
 * unchanged. Closing stops the sampler.
 */
final class UnharmedMain implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(UnharmedMain.class);
    private static final Duration POLL = Duration.ofMillis(200);

    private final BedInstance instance;
    private final ShellClient observer;
    private final long vm;
    private final List<String> stopped = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();

    private UnharmedMain(BedInstance instance, ShellClient observer, long vm) {
        this.instance = instance;
        this.observer = observer;
        this.vm = vm;
    }

    /**
     * Once both clones hold a first backup of the main, which must run in fail-safe mode, starts
     * sampling its running VM; {@code observer} reads ZooKeeper for the checks.
     */
    static UnharmedMain watchFailsafeMain(BedInstance instance, ShellClient observer) throws Exception {
        instance.nextBackupOnBothClones(observer, null);
        org.junit.jupiter.api.Assertions.assertTrue(instance.read("node-a").contains("fail-safe mode on"),
                "the main runs in fail-safe mode:\n" + instance.read("node-a"));
        return watch(instance, observer);
    }

    private static UnharmedMain watch(BedInstance instance, ShellClient observer) throws IOException {
        UnharmedMain m = new UnharmedMain(instance, observer, instance.mainVm().orElseThrow());
        m.sampler.scheduleAtFixedRate(() -> {
            try {
                Optional<ProcStat> s = ProcStat.read(m.vm);
                if (s.isEmpty() || s.get().stopped()) {
                    m.stopped.add(Instant.now() + " " + s.map(ProcStat::toString).orElse("gone"));
                }
            } catch (IOException e) {
                m.stopped.add(Instant.now() + " unreadable: " + e);
            }
        }, 0, 100, TimeUnit.MILLISECONDS);
        return m;
    }

    /** The main fenced itself or its VM stopped: the step has failed, whatever it still waits for. */
    boolean harmed() {
        return !stopped.isEmpty() || Files.exists(instance.layout("node-a").etc().resolve("fenced.json"));
    }

    /**
     * After a failure that ended at {@code back} (System.nanoTime), given the main's backups
     * {@code before} it began: the checks of the class comment; the figures are logged.
     */
    void checkAfter(String what, List<BackupManifest> before, long back) throws Exception {
        List<BackupManifest> all = await(what + ": every backup of the main's repository published").atMost(BedInstance.WAIT)
                .pollInterval(Duration.ofMillis(500)).until(() -> {
                    List<BackupManifest> local = localBackups();
                    return unpublished(local).isEmpty() ? local : null;
                }, Objects::nonNull);
        long published = System.nanoTime();
        BackupManifest newest = all.stream().max(Comparator.comparing(BackupManifest::createdAt)).orElseThrow();
        List<String> caughtUp = new ArrayList<>();
        for (String clone : List.of("node-b", "node-c")) {
            await(what + ": " + clone + " holds " + newest.chainId() + "/" + newest.sequence()).atMost(BedInstance.WAIT)
                    .pollInterval(POLL).until(() -> observer.send("holds " + clone + " " + BedInstance.DEVICE + " "
                            + newest.chainId() + " " + newest.sequence()), "OK true"::equals);
            caughtUp.add(clone + " " + (System.nanoTime() - back) / 1_000_000 + " ms");
        }
        LOG.info("{}: {} backup(s) since it began, all {} published {} ms after its end; {}/{} held by {} after its end", what,
                all.size() - before.size(), all.size(), (published - back) / 1_000_000, newest.chainId(), newest.sequence(),
                caughtUp);

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
    private List<BackupManifest> unpublished(List<BackupManifest> local) throws IOException {
        List<BackupManifest> missing = new ArrayList<>();
        for (BackupManifest m : local) {
            if (!observer.send("get " + instance.layout.manifestPath(m.device(), m.chainId(), m.sequence())).startsWith("OK ")) {
                missing.add(m);
            }
        }
        return missing;
    }

    /** Every backup in the main's repository, oldest first. */
    List<BackupManifest> localBackups() throws Exception {
        BackupRepository repo = new BackupRepository(instance.layout("node-a").backupRepository());
        List<BackupManifest> all = new ArrayList<>();
        for (String device : repo.devices()) {
            for (Chain c : repo.chains(device)) {
                all.addAll(c.backups());
            }
        }
        return all;
    }

    @Override
    public void close() {
        sampler.shutdownNow();
    }
}

package io.resilientkvm.importer.restore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.backup.Sha256;
import io.resilientkvm.engine.disk.ImageInfo;
import io.resilientkvm.engine.disk.QemuImg;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.RefusedException;
import io.resilientkvm.importer.restore.RestoreRequest.Format;
import io.resilientkvm.importer.restore.RestoreRequest.Verification;
import io.resilientkvm.importer.testing.TestRepository;
import io.resilientkvm.importer.testing.TestRepository.Point;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Restores from a real repository made with qemu-img and qemu-io: every point, both formats, instant overlays. */
class RestorerTest {
    private static final long MIB = 1024 * 1024;
    private static final Instant T0 = Instant.parse("2026-11-20T10:00:00Z");

    @TempDir
    Path dir;

    Path repo;
    Path out;
    TestRepository chains;
    Restorer restorer;
    final QemuImg qemuImg = new QemuImg("qemu-img", Duration.ofMinutes(2));

    @BeforeEach
    void repository() throws Exception {
        repo = Files.createDirectories(dir.resolve("repo"));
        out = Files.createDirectories(dir.resolve("out"));
        chains = new TestRepository(repo, dir.resolve("work"), "vda", 64 * MIB);
        chains.full(T0, "write -P 0x41 0 8M");
        chains.inc(T0.plusSeconds(3600), "write -P 0x42 4M 4M", "write -P 0x43 32M 1M");
        chains.inc(T0.plusSeconds(7200), "write -z 0 1M", "write -P 0x44 60M 4M");
        chains.full(T0.plusSeconds(10800), "write -P 0x45 16M 2M");
        chains.inc(T0.plusSeconds(14400), "write -P 0x46 0 64k");
        restorer = new Restorer(repo, qemuImg, Duration.ofSeconds(2));
    }

    @Test
    void materializeAtEveryPointEqualsTheDiskAtThatPointInBothFormatsAndLeavesTheRepositoryAlone() throws Exception {
        Map<String, String> before = snapshot(repo);
        List<Point> points = chains.points();
        for (int i = 0; i < points.size(); i++) {
            Point p = points.get(i);
            for (Format format : Format.values()) {
                Path output = out.resolve("p" + i + "." + format.qemuName());
                RestoreResult r = restorer.materialize(RestoreRequest.to(output).withUntil(p.name()).withFormat(format));

                assertEquals(p.name(), r.point().name());
                assertEquals(p.time(), r.point().time());
                assertTrue(TestRepository.sameData(output, p.reference()), "restore at " + p.name() + " as " + format);
                ImageInfo info = qemuImg.info(output);
                assertEquals(format.qemuName(), info.format());
                assertNull(info.backingFile(), "a materialized image is standalone");
                assertEquals(64 * MIB, r.virtualSize());
                assertFalse(Files.exists(out.resolve(output.getFileName() + ".partial")));
            }
            // Each point differs from the previous one: the comparison can tell points apart.
            if (i > 0) {
                assertFalse(TestRepository.sameData(points.get(i - 1).reference(), p.reference()));
            }
        }
        assertEquals(before, snapshot(repo), "the repository's history must not change");
    }

    @Test
    void untilAcceptsFileNamesChainsAndTimesAndDefaultsToTheNewest() throws Exception {
        List<Point> p = chains.points();
        String newest = p.get(4).name();
        assertEquals(newest, restorer.choose("vda", Optional.empty()).name());
        assertEquals(p.get(1).name(), restorer.choose("vda", Optional.of(p.get(1).file())).name());
        assertEquals(p.get(2).name(), restorer.choose("vda", Optional.of(p.get(2).name())).name());
        assertEquals(p.get(2).name(), restorer.choose("vda", Optional.of(p.get(0).chainId())).name(), "a chain: its newest");
        assertEquals(p.get(1).name(), restorer.choose("vda", Optional.of("2026-11-20T11:59:59Z")).name());
        assertEquals(p.get(2).name(), restorer.choose("vda", Optional.of("2026-11-20T12:00:00Z")).name(), "at counts");
        assertEquals(p.get(2).name(), restorer.choose("vda", Optional.of("2026-11-20T13:30:00+01:00")).name());
        assertEquals(p.get(3).name(), restorer.choose("vda", Optional.of("2026-11-20T13:30:00")).name(), "local = UTC");
        assertEquals(newest, restorer.choose("vda", Optional.of("2030-01-01T00:00:00Z")).name());

        BadInputException early = assertThrows(BadInputException.class,
                () -> restorer.choose("vda", Optional.of("2026-11-20T09:00:00Z")));
        assertTrue(early.getMessage().contains("no backup of vda at or before 2026-11-20T09:00:00Z; the oldest kept is "
                + p.get(0).name()), early.getMessage());
        RestoreInputException unknown = assertThrows(RestoreInputException.class,
                () -> restorer.choose("vda", Optional.of("INC-nope.qcow2")));
        // The library names no command-line option; bin/restore's wording is checked in RestoreCommandTest.
        assertEquals(new RestoreProblem.UnknownPoint("vda", "INC-nope.qcow2"), unknown.problem());
        assertTrue(unknown.getMessage().contains("INC-nope.qcow2: not a backup of vda"), unknown.getMessage());
        assertFalse(unknown.getMessage().contains("--"), unknown.getMessage());
        assertEquals(new RestoreProblem.NothingAtOrBefore("vda", "2026-11-20T09:00:00Z",
                Instant.parse("2026-11-20T09:00:00Z"), p.get(0).name(), p.get(0).time()),
                ((RestoreInputException) early).problem());
    }

    @Test
    void instantOverlayReadsThePointIsMadeFastAndHoldsTheChainUntilFlattened() throws Exception {
        Map<String, String> before = snapshot(repo);
        Point p = chains.points().get(1);
        Path overlay = out.resolve("vm.qcow2");

        RestoreResult r = restorer.instant(RestoreRequest.to(overlay).withUntil(p.name()).withVerification(Verification.QUICK));
        System.out.printf("instant restore of a 64 MiB chain: overlay in %.1f ms, verification %.1f ms%n",
                r.seconds() * 1000, r.verifySeconds() * 1000);

        assertTrue(r.instant());
        Hold hold = r.hold().orElseThrow();
        assertEquals(List.of(hold), restorer.holds().list());
        assertEquals(p.chainId(), hold.chainId());
        assertEquals(p.file(), hold.file());
        assertEquals(overlay, hold.overlay());
        assertEquals(repo.resolve("vda").resolve(p.chainId()).resolve(p.file()).toString(), qemuImg.info(overlay).backingFile());
        assertTrue(TestRepository.sameData(overlay, p.reference()));

        // The VM writes into the overlay, never into the chain.
        TestRepository.run(List.of("qemu-io", "-f", "qcow2", "-c", "write -P 0x51 40M 1M", overlay.toString()));
        assertEquals(before, without(snapshot(repo), Holds.FOLDER));

        RefusedException stillBacked = assertThrows(RefusedException.class, () -> restorer.release(hold.id(), false));
        assertTrue(stillBacked.getMessage().contains("flatten it first"), stillBacked.getMessage());

        restorer.flatten(overlay.toString());
        assertEquals(List.of(), restorer.holds().list());
        assertNull(qemuImg.info(overlay).backingFile());
        TestRepository.run(List.of("qemu-io", "-f", "raw", "-c", "write -P 0x51 40M 1M", p.reference().toString()));
        assertTrue(TestRepository.sameData(overlay, p.reference()), "flattened overlay = point + the VM's write");
    }

    @Test
    void releaseByOverlayPathOnceTheOverlayIsGone() throws Exception {
        Path overlay = out.resolve("vm.qcow2");
        Hold hold = restorer.instant(RestoreRequest.to(overlay).withVerification(Verification.QUICK)).hold().orElseThrow();
        assertEquals(chains.points().get(4).chainId(), hold.chainId(), "default: the newest point");
        Files.delete(overlay);

        assertEquals(hold, restorer.release(overlay.toString(), false));
        assertEquals(List.of(), restorer.holds().list());
        assertThrows(BadInputException.class, () -> restorer.release(hold.id(), false));
    }

    @Test
    void aFlippedByteIsRefusedButEarlierPointsOfTheChainStillRestore() throws Exception {
        Point full = chains.points().get(0);
        Point inc1 = chains.points().get(1);
        Point inc2 = chains.points().get(2);
        Path damaged = repo.resolve("vda").resolve(inc1.chainId()).resolve(inc1.file());
        flipByte(damaged, Files.size(damaged) - 100);

        RefusedException e = assertThrows(RefusedException.class,
                () -> restorer.materialize(RestoreRequest.to(out.resolve("x.qcow2")).withUntil(inc2.name())));
        assertTrue(e.getMessage().contains("refusing to restore vda at " + inc2.name() + ": its chain failed verification"),
                e.getMessage());
        assertTrue(e.getMessage().contains(damaged + ": SHA-256"), e.getMessage());
        assertFalse(Files.exists(out.resolve("x.qcow2")));
        assertThrows(RefusedException.class, () -> restorer.instant(RestoreRequest.to(out.resolve("i.qcow2"))
                .withUntil(inc1.name()).withVerification(Verification.FULL)));
        assertEquals(List.of(), restorer.holds().list(), "no hold for a refused restore");

        restorer.materialize(RestoreRequest.to(out.resolve("full.qcow2")).withUntil(full.name()));
        assertTrue(TestRepository.sameData(out.resolve("full.qcow2"), full.reference()));

        // --no-verify takes the operator's word for it.
        RestoreResult unchecked = restorer.materialize(RestoreRequest.to(out.resolve("y.qcow2")).withUntil(inc2.name())
                .withVerification(Verification.NONE));
        assertEquals(inc2.name(), unchecked.point().name());
        assertTrue(Files.size(out.resolve("y.qcow2")) > 0);
    }

    @Test
    void quickVerificationCatchesATruncatedFile() throws Exception {
        Point inc1 = chains.points().get(1);
        Path file = repo.resolve("vda").resolve(inc1.chainId()).resolve(inc1.file());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 65536);
        }
        RefusedException e = assertThrows(RefusedException.class, () -> restorer.instant(
                RestoreRequest.to(out.resolve("i.qcow2")).withUntil(inc1.name()).withVerification(Verification.QUICK)));
        assertTrue(e.getMessage().contains(file + ": size"), e.getMessage());
        assertFalse(Files.exists(out.resolve("i.qcow2")));
    }

    @Test
    void outputsAreNeverOverwrittenWithoutForceNorWrittenIntoTheRepository() throws Exception {
        Path output = Files.writeString(out.resolve("taken.qcow2"), "precious");
        RestoreRefusedException e = assertThrows(RestoreRefusedException.class,
                () -> restorer.materialize(RestoreRequest.to(output)));
        assertEquals(new RestoreProblem.OutputExists(output.toAbsolutePath().normalize()), e.problem());
        assertTrue(e.getMessage().contains("exists; refusing to overwrite it"), e.getMessage());
        assertEquals("precious", Files.readString(output));
        assertThrows(RefusedException.class, () -> restorer.instant(RestoreRequest.to(output)));

        restorer.materialize(RestoreRequest.to(output).withForce(true));
        assertTrue(TestRepository.sameData(output, chains.points().get(4).reference()));

        assertThrows(BadInputException.class, () -> restorer.materialize(RestoreRequest.to(repo.resolve("vda").resolve("x.qcow2"))));
        assertThrows(BadInputException.class, () -> restorer.materialize(RestoreRequest.to(dir.resolve("nope/x.qcow2"))));
        BadInputException device = assertThrows(BadInputException.class,
                () -> restorer.materialize(RestoreRequest.to(Path.of("/dev/null")).withForce(true)));
        assertTrue(device.getMessage().contains("not a regular file"), device.getMessage());
        assertThrows(BadInputException.class, () -> restorer.instant(RestoreRequest.to(out.resolve("r.raw")).withFormat(Format.RAW)));
        assertThrows(BadInputException.class, () -> restorer.materialize(RestoreRequest.to(out.resolve("a")).withDevice("vdb")));
    }

    /** qmprestore users type the file name without .qcow2. */
    @Test
    void untilAcceptsABackupFileNameWithoutItsSuffix() throws Exception {
        List<Point> p = chains.points();
        for (Point point : p) {
            String bare = point.file().substring(0, point.file().length() - ".qcow2".length());
            assertTrue(bare.matches("(FULL|INC)-[0-9]{8}T[0-9]{6}\\.[0-9]{3}Z"), bare);
            assertEquals(point.name(), restorer.choose("vda", Optional.of(bare)).name(), bare);
            assertEquals(point.name(), restorer.choose("vda", Optional.of(point.chainId() + "/" + bare)).name());
        }
        BadInputException otherChain = assertThrows(BadInputException.class, () -> restorer.choose("vda",
                Optional.of(p.get(3).chainId() + "/" + p.get(1).file().replace(".qcow2", ""))));
        assertTrue(otherChain.getMessage().contains("not a backup of vda"), otherChain.getMessage());
    }

    /** The seed's tools take one disk's folder; here the repository holds one folder per disk. */
    @Test
    void aDiskOrChainFolderGivenAsTheRepositorySaysTheLayoutAndWhatToPass() throws Exception {
        Path deviceDir = repo.resolve("vda");
        RestoreInputException e = assertThrows(RestoreInputException.class,
                () -> new Restorer(deviceDir, qemuImg, Duration.ofSeconds(2)).device(Optional.empty()));
        assertEquals(new RestoreProblem.NotRepositoryRoot(deviceDir, repo, "vda", Optional.empty()), e.problem());
        assertTrue(e.problem().message().contains("DIR/<device>/<chain>/FULL-<time>.qcow2"), e.problem().message());

        String chain = chains.points().get(0).chainId();
        Path chainDir = deviceDir.resolve(chain);
        RestoreInputException c = assertThrows(RestoreInputException.class,
                () -> new Restorer(chainDir, qemuImg, Duration.ofSeconds(2)).choose("vda", Optional.empty()));
        assertEquals(new RestoreProblem.NotRepositoryRoot(chainDir, repo, "vda", Optional.of(chain)), c.problem());
    }

    @Test
    void severalDisksNeedADevice() throws Exception {
        new TestRepository(repo, dir.resolve("work"), "vdb", 16 * MIB).full(T0, "write -P 0x61 0 1M");
        BadInputException e = assertThrows(BadInputException.class, () -> restorer.device(Optional.empty()));
        assertTrue(e.getMessage().contains("holds several disks: vda, vdb"), e.getMessage());
        assertEquals("vdb", restorer.device(Optional.of("vdb")));
    }

    @Test
    void aPruneHoldingTheRepositoryMakesARestoreWaitThenRefuse() throws Exception {
        try (RepositoryLock prune = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "prune of vda",
                Duration.ofSeconds(1))) {
            RefusedException e = assertThrows(RefusedException.class,
                    () -> restorer.materialize(RestoreRequest.to(out.resolve("x.qcow2"))));
            assertTrue(e.getMessage().contains("prune of vda"), e.getMessage());
        }
        restorer.materialize(RestoreRequest.to(out.resolve("x.qcow2")));
        assertTrue(Files.exists(out.resolve("x.qcow2")));
    }

    @Test
    void restoresShareTheLockAPruneDoesNot() throws Exception {
        try (RepositoryLock a = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore a", Duration.ZERO);
                RepositoryLock b = RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "restore b", Duration.ZERO)) {
            RefusedException e = assertThrows(RefusedException.class,
                    () -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "prune", Duration.ofMillis(200)));
            assertTrue(e.getMessage().contains("restore a") && e.getMessage().contains("restore b"), e.getMessage());
            a.close();
            assertThrows(RefusedException.class,
                    () -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "prune", Duration.ZERO));
        }
        try (RepositoryLock x = RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "prune", Duration.ZERO)) {
            assertEquals(RepositoryLock.Mode.EXCLUSIVE, x.mode());
        }
    }

    @Test
    void aRepositoryWhoseLockFileCannotBeWrittenStillRestoresButCannotBePruned() throws Exception {
        RepositoryLock.acquire(repo, RepositoryLock.Mode.SHARED, "create the lock file", Duration.ZERO).close();
        Path lockFile = repo.resolve(RepositoryLock.FILE);
        // As root (the tests' user) permissions do not stop a write; the immutable flag does (EPERM).
        TestRepository.run(List.of("chattr", "+i", lockFile.toString()));
        try {
            restorer.materialize(RestoreRequest.to(out.resolve("x.qcow2")));
            assertTrue(TestRepository.sameData(out.resolve("x.qcow2"), chains.points().get(4).reference()));
            var e = assertThrows(io.resilientkvm.engine.error.OperationFailedException.class,
                    () -> RepositoryLock.acquire(repo, RepositoryLock.Mode.EXCLUSIVE, "prune", Duration.ZERO));
            assertTrue(e.getMessage().contains("cannot lock " + lockFile), e.getMessage());
        } finally {
            TestRepository.run(List.of("chattr", "-i", lockFile.toString()));
        }
    }

    @Test
    void releaseIsNotRefusedForAnOverlayThatNoLongerReadsFromTheRepository() throws Exception {
        Path overlay = out.resolve("vm.qcow2");
        Hold hold = restorer.instant(RestoreRequest.to(overlay)).hold().orElseThrow();
        // The operator rebased the overlay onto a copy outside the repository (unsafe rebase: same data).
        Path copy = out.resolve("copy.qcow2");
        qemuImg.convert(repo.resolve("vda").resolve(hold.chainId()).resolve(hold.file()), "qcow2", copy, "qcow2");
        TestRepository.run(List.of("qemu-img", "rebase", "-u", "-F", "qcow2", "-b", copy.toString(), overlay.toString()));

        assertEquals(hold, restorer.release(hold.id(), false));
        assertTrue(TestRepository.sameData(overlay, chains.points().get(4).reference()));
    }

    static void flipByte(Path file, long position) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, position);
            b.put(0, (byte) (b.get(0) ^ 0x01));
            b.rewind();
            ch.write(b, position);
        }
    }

    /** Every file under {@code root} except the lock file: size, mtime and SHA-256. */
    static Map<String, String> snapshot(Path root) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                String rel = root.relativize(p).toString();
                if (rel.equals(RepositoryLock.FILE)) {
                    continue;
                }
                m.put(rel, Files.isDirectory(p) ? "dir" : Files.size(p) + " " + Files.getLastModifiedTime(p) + " " + Sha256.of(p));
            }
        }
        return m;
    }

    static Map<String, String> without(Map<String, String> snapshot, String prefix) {
        Map<String, String> m = new TreeMap<>(snapshot);
        m.keySet().removeIf(k -> k.startsWith(prefix));
        return m;
    }
}

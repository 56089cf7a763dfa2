package io.resilientkvm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.cli.restore.RestoreCommand;
import io.resilientkvm.importer.testing.TestRepository;
import io.resilientkvm.importer.testing.TestRepository.Point;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bin/restore contract on a real repository: exit codes 0/1/2/3, one line per problem, JSON. */
class RestoreCommandTest {
    private static final long MIB = 1024 * 1024;
    private static final Instant T0 = Instant.parse("2026-11-20T10:00:00Z");

    @TempDir
    Path dir;

    Path repo;
    List<Point> points;

    record Run(int code, String out, String err) {}

    static Run restore(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CommandRunner.run(new RestoreCommand(), new PrintWriter(out), new PrintWriter(err), args);
        return new Run(code, out.toString(), err.toString());
    }

    @BeforeEach
    void repository() throws Exception {
        repo = Files.createDirectories(dir.resolve("repo"));
        TestRepository chains = new TestRepository(repo, dir.resolve("work"), "vda", 32 * MIB);
        chains.full(T0, "write -P 0x41 0 4M");
        chains.inc(T0.plusSeconds(3600), "write -P 0x42 2M 4M");
        chains.inc(T0.plusSeconds(7200), "write -P 0x43 20M 1M");
        points = chains.points();
    }

    @Test
    void restoresAPointAndPrintsASummary() throws Exception {
        Path out = dir.resolve("disk.raw");
        Run r = restore("--repository", repo.toString(), "--until", points.get(1).file(), "--output", out.toString(),
                "--format", "raw");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("restored vda at " + points.get(1).name() + " (2026-11-20T11:00:00Z) into " + out
                + " (raw): 33,554,432 bytes disk"), r.out());
        assertTrue(r.out().contains("MB/s"), r.out());
        assertTrue(TestRepository.sameData(out, points.get(1).reference()));
    }

    @Test
    void jsonListAndJsonRestore() throws Exception {
        Run list = restore("--repository", repo.toString(), "--list", "--json");
        assertEquals(0, list.code(), list.err());
        JsonNode a = new ObjectMapper().readTree(list.out());
        assertEquals(3, a.size());
        assertEquals(points.get(2).name(), a.get(2).path("point").asText());
        assertEquals("INC", a.get(2).path("level").asText());

        Path out = dir.resolve("disk.qcow2");
        Run r = restore("--repository", repo.toString(), "--output", out.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(points.get(2).name(), j.path("point").asText());
        assertEquals("full", j.path("verification").asText());
        assertEquals(32 * MIB, j.path("virtualSize").asLong());
        assertTrue(TestRepository.sameData(out, points.get(2).reference()));
    }

    @Test
    void instantThenHoldsThenReleaseRefusedThenFlatten() throws Exception {
        Path overlay = dir.resolve("vm.qcow2");
        Run r = restore("--repository", repo.toString(), "--instant", "--output", overlay.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        String hold = new ObjectMapper().readTree(r.out()).path("hold").asText();
        assertTrue(TestRepository.sameData(overlay, points.get(2).reference()));

        Run holds = restore("--repository", repo.toString(), "--holds");
        assertEquals(0, holds.code(), holds.err());
        assertTrue(holds.out().startsWith(hold + "  vda/" + points.get(2).name()), holds.out());

        Run release = restore("--repository", repo.toString(), "--release", hold);
        assertEquals(3, release.code(), release.out());
        assertTrue(release.err().startsWith("refused: hold " + hold), release.err());
        assertTrue(release.err().contains("'bin/restore --flatten " + hold + "'") && release.err().contains("--force releases"),
                release.err());

        Run flatten = restore("--repository", repo.toString(), "--flatten", overlay.toString());
        assertEquals(0, flatten.code(), flatten.err());
        assertTrue(restore("--repository", repo.toString(), "--holds").out().startsWith("no holds"));
        assertTrue(TestRepository.sameData(overlay, points.get(2).reference()));
    }

    @Test
    void exitThreeForADamagedChainAndAnExistingOutput() throws Exception {
        Path out = dir.resolve("disk.qcow2");
        Files.writeString(out, "x");
        Run exists = restore("--repository", repo.toString(), "--output", out.toString());
        assertEquals(3, exists.code());
        assertEquals(1, exists.err().strip().lines().count(), exists.err());
        assertEquals("refused: --output " + out + ": exists; refusing to overwrite it (--force replaces it)",
                exists.err().strip());
        assertEquals(0, restore("--repository", repo.toString(), "--output", out.toString(), "--force").code());

        Path file = repo.resolve("vda").resolve(points.get(0).chainId()).resolve(points.get(1).file());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {0x7f}), ch.size() - 10);
        }
        Run damaged = restore("--repository", repo.toString(), "--output", dir.resolve("d.qcow2").toString());
        assertEquals(3, damaged.code());
        assertTrue(damaged.err().contains("its chain failed verification"), damaged.err());
        assertTrue(damaged.err().contains(file + ": SHA-256"), damaged.err());
        assertFalse(damaged.err().contains("Exception"), damaged.err());
        assertTrue(damaged.err().contains("choose an intact point with --until (bin/restore --list), or --no-verify"),
                damaged.err());
        assertEquals(0, restore("--repository", repo.toString(), "--until", points.get(0).file(), "--output",
                dir.resolve("f.qcow2").toString()).code(), "a point before the damage restores");
        assertEquals(0, restore("--repository", repo.toString(), "--no-verify", "--output", dir.resolve("n.qcow2").toString())
                .code());
    }

    @Test
    void exitTwoForBadInput() throws Exception {
        String r = repo.toString();
        assertEquals(2, restore("--output", dir.resolve("x").toString()).code(), "no --repository");
        assertEquals(2, restore("--repository", r).code(), "no --output");
        assertEquals(2, restore("--repository", dir.resolve("none").toString(), "--list").code());
        Run unknownPoint = restore("--repository", r, "--output", dir.resolve("x").toString(), "--until", "nope");
        assertEquals(2, unknownPoint.code());
        assertTrue(unknownPoint.err().startsWith("--until nope: not a backup of vda"), unknownPoint.err());
        assertTrue(unknownPoint.err().contains("'bin/restore --list' shows the points"), unknownPoint.err());
        assertEquals(2, restore("--repository", r, "--output", dir.resolve("x").toString(), "--format", "vmdk").code());
        assertEquals(2, restore("--repository", r, "--output", dir.resolve("x").toString(), "--instant", "--format", "raw").code());
        assertEquals(2, restore("--repository", r, "--list", "--holds").code());
        assertEquals(2, restore("--repository", r, "--release", "nope").code());
        assertEquals(2, restore("--repository", r, "--output", repo.resolve("x.qcow2").toString()).code(), "inside the repository");

        new TestRepository(repo, dir.resolve("work"), "vdb", 8 * MIB).full(T0, "write -P 0x61 0 1M");
        Run several = restore("--repository", r, "--output", dir.resolve("x").toString());
        assertEquals(2, several.code());
        assertEquals("--device: missing; " + repo + " holds several disks: vda, vdb; choose one with --device NAME",
                several.err().strip());
        assertEquals(0, restore("--repository", r, "--device", "vdb", "--output", dir.resolve("b.qcow2").toString()).code());
    }

    /** The habits of qmprestore and of the seed: INC-<time> without .qcow2, and the folder of one disk as the repository. */
    @Test
    void untilTakesTheFileNameWithoutQcow2AndADiskFolderIsExplained() throws Exception {
        String bare = points.get(1).file().replace(".qcow2", "");
        assertTrue(bare.startsWith("INC-"), bare);
        Path out = dir.resolve("inc.raw");
        Run r = restore("--repository", repo.toString(), "--until", bare, "--output", out.toString(), "--format", "raw");
        assertEquals(0, r.code(), r.err());
        assertTrue(TestRepository.sameData(out, points.get(1).reference()));
        String full = points.get(0).file().replace(".qcow2", "");
        Run f = restore("--repository", repo.toString(), "--until", full, "--output", dir.resolve("full.qcow2").toString());
        assertEquals(0, f.code(), f.err());
        assertTrue(TestRepository.sameData(dir.resolve("full.qcow2"), points.get(0).reference()));

        Path deviceDir = repo.resolve("vda");
        for (String[] args : List.of(new String[] {"--output", dir.resolve("x.qcow2").toString()}, new String[] {"--list"})) {
            List<String> all = new java.util.ArrayList<>(List.of("--repository", deviceDir.toString()));
            all.addAll(List.of(args));
            Run wrong = restore(all.toArray(String[]::new));
            assertEquals(2, wrong.code(), wrong.out());
            assertEquals(1, wrong.err().strip().lines().count(), wrong.err());
            assertEquals("--repository " + deviceDir + ": is the folder of disk vda, its subfolders are chains holding"
                    + " backup files (the repository's layout is DIR/<device>/<chain>/FULL-<time>.qcow2, then"
                    + " INC-<time>.qcow2); give the repository instead: --repository " + repo + " --device vda",
                    wrong.err().strip());
            assertFalse(wrong.err().contains("no complete backup"), wrong.err());
        }
        Path chainDir = deviceDir.resolve(points.get(0).chainId());
        Run chain = restore("--repository", chainDir.toString(), "--output", dir.resolve("y.qcow2").toString());
        assertEquals(2, chain.code(), chain.out());
        assertTrue(chain.err().startsWith("--repository " + chainDir + ": is a chain folder, it holds backup files"
                + " (the repository's layout is DIR/<device>/<chain>/FULL-<time>.qcow2"), chain.err());
        assertTrue(chain.err().strip().endsWith("--repository " + repo + " --device vda --until " + points.get(0).chainId()),
                chain.err());
    }

    @Test
    void exitOneWhenQemuImgFails() throws Exception {
        // A sane header (it passes the Java check) whose L1 table offset is not cluster-aligned:
        // qemu-img itself fails. A file that is not an image at all is refused before (exit 3).
        Path file = repo.resolve("vda").resolve(points.get(0).chainId()).resolve(points.get(2).file());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).putLong(0, 0x1234567L), 40);
        }
        Path out = dir.resolve("x.qcow2");
        Run r = restore("--repository", repo.toString(), "--no-verify", "--output", out.toString());
        assertEquals(1, r.code(), r.out() + r.err());
        assertTrue(r.err().startsWith("failed: 'qemu-img convert"), r.err());
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(dir.resolve("x.qcow2.partial")));
    }
}

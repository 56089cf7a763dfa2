package io.resilientkvm.it.netbed;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.drill.netns.NetBed;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/** The operator's side of a takeover on the bed: {@code bin/takeover} on a node's host, and what the test then reads. */
final class BedTakeover {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PROMPT = "Take over as main? Type 'yes' to go on";
    private static final java.util.regex.Pattern LOG_LINE = java.util.regex.Pattern.compile("\\d\\d:\\d\\d:\\d\\d[.,]\\d{3} ");

    private BedTakeover() {
    }

    /**
     * {@code bin/takeover --yes [extra]} as a real TakeoverCommand JVM in {@code node}'s namespace
     * with {@code node}'s configuration, its output in {@code logs/takeover.log}; waits for its end
     * and returns its output.
     */
    static String run(BedInstance instance, String node, String... extra) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("--yes"));
        args.addAll(List.of(extra));
        return awaitSuccess(instance, node, instance.bed.start(instance.host(node), command(instance, node, args), log(instance)));
    }

    /**
     * {@code bin/takeover [extra]} without {@code --yes}, on a pseudo-terminal ({@code script}) as
     * an operator runs it, once it waits at its confirmation prompt: it has taken the lock, read
     * the instance and planned; {@link AtPrompt#confirm} lets it advance the epoch at once.
     */
    static AtPrompt atPrompt(BedInstance instance, String node, String... extra) throws IOException {
        List<String> java = command(instance, node, List.of(extra));
        String line = java.stream().map(a -> "'" + a.replace("'", "'\\''") + "'").collect(Collectors.joining(" "));
        Process p = instance.bed.start(instance.host(node), List.of("script", "--quiet", "--return", "--command", line, "/dev/null"),
                log(instance));
        await("bin/takeover on " + node + " asks for confirmation").atMost(BedInstance.WAIT).pollInterval(Duration.ofMillis(100))
                .until(() -> {
                    if (!p.isAlive()) {
                        throw new AssertionError("bin/takeover on " + node + " ended (exit " + p.exitValue() + ") before its prompt:\n"
                                + instance.read("takeover"));
                    }
                    return instance.read("takeover").contains(PROMPT);
                });
        return new AtPrompt(instance, node, p);
    }

    /** A takeover waiting for its operator's "yes". */
    record AtPrompt(BedInstance instance, String node, Process process) {
        /** What it printed so far: the plan. */
        String plan() throws IOException {
            return printed(instance.read("takeover"));
        }

        /** Types "yes" at the prompt. */
        void confirm() throws IOException {
            OutputStream in = process.getOutputStream();
            in.write("yes\n".getBytes(StandardCharsets.US_ASCII));
            in.flush();
        }

        /** Waits for the takeover's end (it must exit 0) and returns its output. */
        String awaitSuccess() throws IOException, InterruptedException {
            return BedTakeover.awaitSuccess(instance, node, process);
        }
    }

    private static List<String> command(BedInstance instance, String node, List<String> extra) {
        List<String> args = new ArrayList<>(List.of("--config", instance.dir.resolve(node + ".json").toString()));
        args.addAll(extra);
        return NetBed.java(List.of("-Xmx256m", "-XX:TieredStopAtLevel=1"), "io.resilientkvm.cli.takeover.TakeoverCommand", args);
    }

    private static Path log(BedInstance instance) throws IOException {
        Files.createDirectories(instance.log("takeover").getParent());
        return instance.log("takeover");
    }

    /** 3 min at most: a takeover that does not end is a finding, with its output and the node's log. */
    private static String awaitSuccess(BedInstance instance, String node, Process p) throws IOException, InterruptedException {
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            NetBed.kill(List.of(p));
            throw new AssertionError("bin/takeover on " + node + " did not end within 3 min:\n" + instance.read("takeover") + "\n"
                    + node + "'s agent:\n" + instance.read(node));
        }
        String out = instance.read("takeover");
        assertEquals(0, p.exitValue(), "bin/takeover on " + node + " exits 0:\n" + out + "\n" + node + "'s agent:\n" + instance.read(node));
        return out;
    }

    /** The instance running: its three agents started, a first backup held by both clones, node-a the main. */
    record Running(Process mainAgent, ShellClient observer, long epoch, long mainQemu) {
    }

    /** Starts the three agents and waits until node-a runs its VM and both clones hold its first backup. */
    static Running start(BedInstance instance) throws IOException {
        Process main = instance.startAgent("node-a", "node-a", "node-a");
        instance.startAgent("node-b", "node-b", "node-b");
        instance.startAgent("node-c", "node-c", "node-c");
        ShellClient observer = observerOnceServing(instance);
        instance.nextBackupOnBothClones(observer, null);
        String[] epoch = epoch(observer);
        assertEquals("node-a", epoch[1], "node-a owns the epoch");
        return new Running(main, observer, Long.parseLong(epoch[0]), instance.mainVm().orElseThrow());
    }

    /** After a takeover by {@code node}: it owns the epoch after {@code before}; returns that epoch. */
    static long assertEpochMovedTo(ShellClient observer, long before, String node) throws IOException {
        String[] after = epoch(observer);
        assertEquals(node, after[1], node + " owns the new epoch");
        assertEquals(before + 1, Long.parseLong(after[0]), "the epoch moved by one");
        return before + 1;
    }

    /** The output of a takeover shows its wait for the old VM: the bed's lease and a tenth. */
    static void assertAwaitedTheOldVm(String output) {
        Duration lease = BedInstance.LEASE;
        org.junit.jupiter.api.Assertions.assertTrue(output.contains("AWAIT_OLD_VM")
                && output.contains("waiting " + (lease.toMillis() + lease.toMillis() / 10) + " ms"), printed(output));
    }

    /**
     * The observer, once every agent has registered in ZooKeeper: the ensemble then serves, and the
     * observer's bounded connect (15 s) does not race the servers' start on a loaded host (seen:
     * the agents registered 30 s after the ensemble started, the observer had given up).
     */
    static ShellClient observerOnceServing(BedInstance instance) throws IOException {
        for (String node : BedInstance.NODES) {
            await(node + " registered in ZooKeeper").atMost(BedInstance.WAIT).pollInterval(Duration.ofMillis(200))
                    .until(() -> instance.read(node).contains("Node " + node + " registered as"));
        }
        return instance.observer();
    }

    /** What the command printed for the operator: its output without the log lines of its JVM. */
    static String printed(String output) {
        return output.lines().filter(l -> !LOG_LINE.matcher(l).lookingAt()).filter(l -> !l.isBlank())
                .collect(java.util.stream.Collectors.joining("\n"));
    }

    /** The epoch as the observer reads it: {@code [number, owner]}. */
    static String[] epoch(ShellClient observer) throws IOException {
        String answer = observer.send("epoch");
        if (!answer.startsWith("OK ")) {
            throw new AssertionError("no epoch: " + answer);
        }
        return answer.substring(3).split(" ");
    }

    /** {@code node}'s member znode, or null when it has none (its session ended). */
    static JsonNode member(BedInstance instance, ShellClient observer, String node) throws IOException {
        String answer = observer.send("get " + instance.layout.memberPath(node));
        if (answer.equals("ERR NONODE")) {
            return null;
        }
        if (!answer.startsWith("OK ")) {
            throw new AssertionError("reading " + node + "'s member znode: " + answer);
        }
        return JSON.readTree(answer.substring(3));
    }

    /**
     * Waits until a backup the main of {@code epoch} published is held by {@code clone}; returns
     * {@code [path, chain, sequence]}.
     */
    static String[] cloneHoldsABackupOfEpoch(BedInstance instance, ShellClient observer, String clone, long epoch) {
        String[] backup = await("a backup published under epoch " + epoch).atMost(BedInstance.WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> {
                    String[] b = instance.newestBackup(observer);
                    return epochOf(observer, b[0]) == epoch ? b : null;
                }, java.util.Objects::nonNull);
        await(clone + " holds " + backup[0]).atMost(BedInstance.WAIT).pollInterval(Duration.ofMillis(500))
                .until(() -> observer.send("holds " + clone + " " + BedInstance.DEVICE + " " + backup[1] + " " + backup[2]),
                        "OK true"::equals);
        return backup;
    }

    private static long epochOf(ShellClient observer, String manifestPath) throws IOException {
        String answer = observer.send("get " + manifestPath);
        if (!answer.startsWith("OK ")) {
            throw new AssertionError("reading " + manifestPath + ": " + answer);
        }
        return JSON.readTree(answer.substring(3)).path("epoch").asLong(-1);
    }
}

package io.resilientkvm.it.netbed;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.resilientkvm.drill.netns.NetBed;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The operator's side of a takeover on the bed: {@code bin/takeover} on a node's host, and what the test then reads. */
final class BedTakeover {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final java.util.regex.Pattern LOG_LINE = java.util.regex.Pattern.compile("\\d\\d:\\d\\d:\\d\\d[.,]\\d{3} ");

    private BedTakeover() {
    }

    /**
     * {@code bin/takeover --yes [extra]} as a real TakeoverCommand JVM in {@code node}'s namespace
     * with {@code node}'s configuration, its output in {@code logs/takeover.log}; waits for its end
     * (3 min at most: a takeover that does not end is a finding) and returns its output.
     */
    static String run(BedInstance instance, String node, String... extra) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("--config", instance.dir.resolve(node + ".json").toString(), "--yes"));
        args.addAll(List.of(extra));
        Files.createDirectories(instance.log("takeover").getParent());
        Process p = instance.bed.start(instance.host(node), NetBed.java(List.of("-Xmx256m", "-XX:TieredStopAtLevel=1"),
                "io.resilientkvm.cli.takeover.TakeoverCommand", args), instance.log("takeover"));
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            NetBed.kill(List.of(p));
            throw new AssertionError("bin/takeover on " + node + " did not end within 3 min:\n" + instance.read("takeover") + "\n"
                    + node + "'s agent:\n" + instance.read(node));
        }
        String out = instance.read("takeover");
        assertEquals(0, p.exitValue(), "bin/takeover on " + node + " exits 0:\n" + out + "\n" + node + "'s agent:\n" + instance.read(node));
        return out;
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

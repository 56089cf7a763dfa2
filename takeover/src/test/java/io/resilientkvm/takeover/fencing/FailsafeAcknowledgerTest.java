package io.resilientkvm.takeover.fencing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.testing.ManualTime;
import io.resilientkvm.takeover.fencing.AckChannel.AckAnswer;
import io.resilientkvm.takeover.fencing.AckChannel.AckRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The clone's rule: when it acknowledges, what it promises, for how long, and where it keeps it. */
class FailsafeAcknowledgerTest {
    private static final Duration OWN = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private final ManualTime time = new ManualTime();
    private final AtomicReference<FailsafeAcknowledger.View> view =
            new AtomicReference<>(new FailsafeAcknowledger.View(true, 3, "node-a"));

    private FailsafeAcknowledger acknowledger() {
        return new FailsafeAcknowledger("node-b", "demo", OWN, dir.resolve("etc/failsafe-ack.json"), view::get, time);
    }

    private static AckRequest request(long epoch, long windowMillis) {
        return new AckRequest("demo", "node-a", epoch, windowMillis);
    }

    @Test
    void aCloneAcknowledgesItsMainAndPromisesNoPromotionForTheLongerOfBothWindows() {
        FailsafeAcknowledger a = acknowledger();
        AckAnswer yes = a.acknowledge("node-a", request(3, 2000));
        assertTrue(yes.acknowledged(), yes.detail());
        Instant until = time.instant().plus(OWN); // its own bound is longer than the 2 s asked
        assertEquals(until, a.binding(time.instant()).orElseThrow().until());
        time.advance(OWN.minusMillis(1));
        assertTrue(a.binding(time.instant()).isPresent());
        time.advance(Duration.ofMillis(1));
        assertTrue(a.binding(time.instant()).isEmpty(), "expired at its end");
        // A new agent reads what the file holds.
        assertEquals(until, FailsafeAck.read(dir.resolve("etc/failsafe-ack.json")).orElseThrow().until());
    }

    @Test
    void aPromiseIsNeverShortened() {
        FailsafeAcknowledger a = acknowledger();
        a.acknowledge("node-a", request(3, 60_000));
        Instant first = a.binding(time.instant()).orElseThrow().until();
        time.advance(Duration.ofSeconds(1));
        a.acknowledge("node-a", request(3, 1000));
        assertEquals(first, a.binding(time.instant()).orElseThrow().until());
    }

    @Test
    void refusalsNameTheirCauseAndPromiseNothing() {
        FailsafeAcknowledger a = acknowledger();
        assertRefused(a.acknowledge("node-c", request(3, 2000)), "comes from node-c");
        assertRefused(a.acknowledge("node-a", new AckRequest("other", "node-a", 3, 2000)), "instance demo, not other");
        view.set(new FailsafeAcknowledger.View(true, 4, "node-b"));
        assertRefused(a.acknowledge("node-a", request(3, 2000)), "knows epoch 4 (owner node-b), newer than node-a's epoch 3");
        view.set(new FailsafeAcknowledger.View(true, 3, "node-c"));
        assertRefused(a.acknowledge("node-a", request(3, 2000)), "epoch 3 is owned by node-c");
        view.set(new FailsafeAcknowledger.View(false, 3, "node-a"));
        assertRefused(a.acknowledge("node-a", request(3, 2000)), "not a clone now");
        assertTrue(a.binding(time.instant()).isEmpty());
        assertFalse(Files.exists(dir.resolve("etc/failsafe-ack.json")));
    }

    @Test
    void anUnreadablePromiseBindsForEver() throws Exception {
        Path file = dir.resolve("etc/failsafe-ack.json");
        Files.createDirectories(file.getParent());
        Files.writeString(file, "{not json");
        FailsafeAck read = FailsafeAcknowledger.binding(file, Instant.now().plus(Duration.ofDays(3650))).orElseThrow();
        assertTrue(read.main().contains(file.toString()) && read.main().contains("delete it"), read.main());
    }

    private static void assertRefused(AckAnswer a, String why) {
        assertFalse(a.acknowledged());
        assertTrue(a.detail().contains(why), a.detail());
    }
}

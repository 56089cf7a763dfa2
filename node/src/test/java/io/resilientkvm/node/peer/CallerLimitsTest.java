package io.resilientkvm.node.peer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The per-caller limits, on an injected clock: one node's burst neither passes its share nor touches another's. */
class CallerLimitsTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    @Test
    void aNodeGetsItsRequestsASecondAndItsConcurrentRequestsAndNoMore() {
        CallerLimits limits = new CallerLimits(2, 3, now::get);
        assertEquals(Optional.empty(), limits.tryAcquire("node-a"));
        assertEquals(Optional.empty(), limits.tryAcquire("node-a"));
        Optional<String> third = limits.tryAcquire("node-a");
        assertTrue(third.orElseThrow().contains("node-a already has 2 requests in progress"), third.toString());
        assertEquals(Optional.empty(), limits.tryAcquire("node-b"), "another node has its own share");

        limits.release("node-a");
        assertEquals(Optional.empty(), limits.tryAcquire("node-a"), "a slot freed, a token left");
        limits.release("node-a");
        limits.release("node-a");
        Optional<String> fourth = limits.tryAcquire("node-a");
        assertTrue(fourth.orElseThrow().contains("more than 3 requests in the last second"), fourth.toString());

        now.addAndGet(340_000_000L); // a third of a second: one token back
        assertEquals(Optional.empty(), limits.tryAcquire("node-a"));
        assertTrue(limits.tryAcquire("node-a").isPresent(), "and only one");
        limits.release("node-a");
        now.addAndGet(10_000_000_000L); // a long pause refills one second's worth, not more
        for (int i = 0; i < 3; i++) {
            assertEquals(Optional.empty(), limits.tryAcquire("node-a"), "request " + i);
            limits.release("node-a");
        }
        assertTrue(limits.tryAcquire("node-a").isPresent(), "the bucket holds one second's worth");
    }
}

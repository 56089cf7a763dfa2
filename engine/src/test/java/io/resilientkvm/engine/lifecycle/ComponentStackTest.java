package io.resilientkvm.engine.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ComponentStackTest {
    private final List<String> events = Collections.synchronizedList(new ArrayList<>());

    private AutoCloseable component(String name) {
        events.add("start " + name);
        return () -> events.add("close " + name);
    }

    @Test
    void closesInReverseOrderOfStartAndOnlyOnce() throws Exception {
        ComponentStack stack = new ComponentStack("test");
        stack.start("a", () -> component("a"));
        stack.start("b", () -> component("b"));
        stack.add("c", component("c"));
        assertEquals(3, stack.size());
        stack.close();
        stack.close();
        assertEquals(List.of("start a", "start b", "start c", "close c", "close b", "close a"), events);
    }

    @Test
    void aFailedStartClosesWhatStartedBeforeItInReverseAndRethrows() {
        IOException boom = new IOException("third failed");
        IOException thrown = assertThrows(IOException.class, () -> ComponentStack.startAll("test", stack -> {
            stack.start("a", () -> component("a"));
            stack.start("b", () -> component("b"));
            stack.start("c", () -> {
                throw boom;
            });
            stack.start("d", () -> component("d"));
        }));
        assertSame(boom, thrown);
        assertEquals(List.of("start a", "start b", "close b", "close a"), events);
    }

    @Test
    void aFailingCloseDoesNotStopTheOthers() throws Exception {
        ComponentStack stack = new ComponentStack("test");
        stack.start("a", () -> component("a"));
        stack.start("bad", () -> (AutoCloseable) () -> {
            throw new IOException("close failed");
        });
        stack.start("c", () -> component("c"));
        stack.close();
        assertEquals(List.of("start a", "start c", "close c", "close a"), events);
    }

    @Test
    void nothingStartsOnAClosedStack() throws Exception {
        ComponentStack stack = new ComponentStack("test");
        stack.close();
        assertThrows(IllegalStateException.class, () -> stack.start("late", () -> component("late")));
        assertThrows(IllegalStateException.class, () -> stack.add("late", () -> events.add("close late")));
        assertTrue(events.contains("close late"), "a component added to a closed stack is closed, not leaked");
    }

    @Test
    void aCloseDuringASlowStartDoesNotWaitForItAndTheLateComponentIsClosedAtOnce() throws Exception {
        ComponentStack stack = new ComponentStack("test");
        stack.start("a", () -> component("a"));
        CountDownLatch starting = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<Throwable> slowStart = CompletableFuture.supplyAsync(() -> {
            try {
                stack.start("slow", () -> {
                    starting.countDown();
                    release.await(1, TimeUnit.MINUTES);
                    return component("slow");
                });
                return null;
            } catch (Exception e) {
                return e;
            }
        });
        assertTrue(starting.await(1, TimeUnit.MINUTES));
        stack.close(); // returns while "slow" is still starting: no lock is held across a start
        assertEquals(List.of("start a", "close a"), events);
        release.countDown();
        Throwable late = slowStart.get(1, TimeUnit.MINUTES);
        assertTrue(late instanceof IllegalStateException, String.valueOf(late));
        assertEquals(List.of("start a", "close a", "start slow", "close slow"), events,
                "a component that comes up after its stack closed is stopped at once");
    }
}

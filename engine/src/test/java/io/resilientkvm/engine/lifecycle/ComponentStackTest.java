package io.resilientkvm.engine.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ComponentStackTest {
    private final List<String> events = new ArrayList<>();

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
}

package io.resilientkvm.engine.lifecycle;

import java.util.ArrayDeque;
import java.util.Deque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Components started in order and closed in reverse (BookKeeper's component stack). A start that
 * fails part-way closes, in reverse, what this stack already started, then rethrows: a failed start
 * leaves nothing running. {@link #close()} is idempotent; each component's close runs even when an
 * earlier one failed (failures are logged, and the first is rethrown if it is an Error).
 *
 * <pre>{@code
 * ComponentStack stack = new ComponentStack("main role");
 * try {
 *     FencingWatcher fencing = stack.start("fencing", () -> FencingWatcher.start(...));
 *     BackupServer server = stack.start("backup server", () -> BackupServer.start(...));
 * } catch (Exception e) {
 *     stack.close();
 *     throw e;
 * }
 * }</pre>
 * or, shorter, {@link #startAll}.
 */
public final class ComponentStack implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ComponentStack.class);

    /** Starts one component; it is returned started, or the starter throws and owns nothing. */
    @FunctionalInterface
    public interface Starter<T extends AutoCloseable, E extends Exception> {
        T start() throws E;
    }

    /** Starts the components of a stack, in order, through {@link ComponentStack#start}. */
    @FunctionalInterface
    public interface Body<E extends Exception> {
        void startIn(ComponentStack stack) throws E;
    }

    private record Entry(String name, AutoCloseable component) {}

    private final String owner;
    private final LifecycleState state;
    private final Deque<Entry> started = new ArrayDeque<>();

    public ComponentStack(String owner) {
        this.owner = owner;
        this.state = new LifecycleState(owner);
    }

    /**
     * Runs {@code body}; if it throws, closes in reverse what it started and rethrows. The stack
     * stays open on success: the caller owns it and closes it.
     */
    public static <E extends Exception> ComponentStack startAll(String owner, Body<E> body) throws E {
        ComponentStack stack = new ComponentStack(owner);
        try {
            body.startIn(stack);
            return stack;
        } catch (Exception | Error e) {
            stack.close();
            throw e;
        }
    }

    /**
     * Starts one more component on top of the stack. If its start throws, everything this stack
     * started so far is closed in reverse before the exception goes on.
     *
     * <p>No lock is held while the component starts, so {@link #close()} (a fence, a shutdown)
     * never waits for a slow start: it closes what is on the stack and returns. A component whose
     * start ends after that close is closed at once by the starting thread, and this method then
     * throws {@link IllegalStateException}: nothing started outlives its stack. Components of one
     * stack are started by one thread; {@code close()} may come from any thread.
     */
    public <T extends AutoCloseable, E extends Exception> T start(String name, Starter<T, E> starter) throws E {
        if (state.isClosed()) {
            throw new IllegalStateException(owner + " is closed: cannot start " + name);
        }
        T component;
        try {
            component = starter.start();
        } catch (Exception | Error e) {
            LOG.warn("{}: {} failed to start ({}); closing the component(s) started before it", owner, name,
                    e.getMessage());
            close();
            throw e;
        }
        if (component == null) {
            close();
            throw new IllegalStateException(owner + ": the starter of " + name + " returned nothing");
        }
        return push(name, component);
    }

    private <T extends AutoCloseable> T push(String name, T component) {
        synchronized (this) {
            if (!state.isClosed()) {
                started.push(new Entry(name, component));
                return component;
            }
        }
        closeQuietly(new Entry(name, component));
        throw new IllegalStateException(owner + " was closed while " + name + " was starting: " + name
                + " is stopped again");
    }

    /** Puts an already started component on the stack, so that it is closed with the others. */
    public <T extends AutoCloseable> T add(String name, T component) {
        return push(name, component);
    }

    /** How many components are started on this stack. */
    public synchronized int size() {
        return started.size();
    }

    /** Closes every component in reverse order of start; later calls do nothing. */
    @Override
    public void close() {
        if (!state.markClosed()) {
            return;
        }
        Error first = null;
        while (true) {
            Entry next;
            synchronized (this) {
                next = started.poll();
            }
            if (next == null) {
                break;
            }
            try {
                closeQuietly(next);
            } catch (Error e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    private void closeQuietly(Entry entry) {
        try {
            entry.component().close();
        } catch (Exception e) {
            LOG.warn("{}: closing {} failed: {}", owner, entry.name(), e.toString());
        }
    }
}

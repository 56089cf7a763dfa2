package io.resilientkvm.engine.lifecycle;

import java.util.concurrent.atomic.AtomicReference;

/**
 * The state of one long-lived component: LATENT until it starts, STARTED once, CLOSED for good.
 * Every change is a compare-and-set, so a component starts at most once and its close runs its
 * clean-up at most once, whichever threads race.
 */
public final class LifecycleState {
    public enum State { LATENT, STARTED, CLOSED }

    private final String component;
    private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);

    public LifecycleState(String component) {
        this.component = component;
    }

    /** LATENT to STARTED; a second start, or a start after close, is a programming error. */
    public void markStarted() {
        if (!state.compareAndSet(State.LATENT, State.STARTED)) {
            throw new IllegalStateException(component + " cannot be started: it is " + state.get().name().toLowerCase());
        }
    }

    /** To CLOSED; true only for the caller that closed it, so clean-up runs once. */
    public boolean markClosed() {
        return state.getAndSet(State.CLOSED) != State.CLOSED;
    }

    public State get() {
        return state.get();
    }

    public boolean isStarted() {
        return state.get() == State.STARTED;
    }

    public boolean isClosed() {
        return state.get() == State.CLOSED;
    }

    /** Throws unless STARTED: for operations that need a running component. */
    public void requireStarted() {
        State now = state.get();
        if (now != State.STARTED) {
            throw new IllegalStateException(component + " is " + now.name().toLowerCase() + ", not started");
        }
    }

    @Override
    public String toString() {
        return component + " " + state.get();
    }
}

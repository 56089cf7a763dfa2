/**
 * One lifecycle for every long-lived component, in the spirit of Curator's recipes
 * ({@link io.resilientkvm.engine.lifecycle.LifecycleState}: LATENT, STARTED, CLOSED, changed by
 * compare-and-set) and BookKeeper's component stack
 * ({@link io.resilientkvm.engine.lifecycle.ComponentStack}: start in order, close in reverse, and a
 * start that fails part-way closes what already started). {@link io.resilientkvm.engine.lifecycle.PausePoint}:
 * the crash tests' hook that holds a process at a named point (off by default).
 */
package io.resilientkvm.engine.lifecycle;

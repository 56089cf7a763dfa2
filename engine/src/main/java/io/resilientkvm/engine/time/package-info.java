/**
 * Time as a dependency: {@link io.resilientkvm.engine.time.TaskTimer} runs a task after a delay,
 * and components that decide by elapsed time take it (with a {@link java.time.InstantSource})
 * from their caller, so that tests drive them with a manual clock.
 */
package io.resilientkvm.engine.time;

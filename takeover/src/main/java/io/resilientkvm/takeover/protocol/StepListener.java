package io.resilientkvm.takeover.protocol;

/** Hears each step as it starts and ends (the CLI prints them). Must not throw or block long. */
@FunctionalInterface
public interface StepListener {
    StepListener NONE = report -> { };

    void step(StepReport report);
}

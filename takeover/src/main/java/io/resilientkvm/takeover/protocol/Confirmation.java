package io.resilientkvm.takeover.protocol;

/** Asks the operator to confirm a GO plan (the CLI prompts; {@code --yes} uses {@link #YES}). */
@FunctionalInterface
public interface Confirmation {
    Confirmation YES = plan -> true;

    /** True to go on. Called with the takeover lock held and nothing changed yet. */
    boolean confirm(TakeoverPlan plan);
}

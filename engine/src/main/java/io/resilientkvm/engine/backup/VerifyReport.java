package io.resilientkvm.engine.backup;

import java.util.List;

/**
 * The outcome of verifying a chain.
 *
 * @param chain    the chain verified
 * @param problems what is wrong (empty when the chain is usable)
 * @param warnings harmless findings, e.g. leaked clusters
 */
public record VerifyReport(Chain chain, List<String> problems, List<String> warnings) {
    public VerifyReport {
        problems = List.copyOf(problems);
        warnings = List.copyOf(warnings);
    }

    /** True when no problem was found. */
    public boolean ok() {
        return problems.isEmpty();
    }
}

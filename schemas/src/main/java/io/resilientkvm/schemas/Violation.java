package io.resilientkvm.schemas;

import java.util.Objects;

/**
 * One broken rule: the parameter (a dotted path such as {@code external-disk.first.path}), the
 * value found (rendered as JSON, {@code null} when absent) and the rule in words.
 */
public record Violation(String parameter, String value, String rule) {
    public Violation {
        Objects.requireNonNull(parameter, "parameter");
        Objects.requireNonNull(rule, "rule");
    }

    /** One line for an operator: {@code ram-size = 64: must be at least 128}. */
    @Override
    public String toString() {
        return value == null ? parameter + ": " + rule : parameter + " = " + value + ": " + rule;
    }
}

package io.resilientkvm.schemas;

import java.util.List;

/** A document that cannot be used: unreadable, not JSON, or breaking rules. One problem per line. */
public final class InvalidDocumentException extends Exception {
    private final List<String> problems;

    public InvalidDocumentException(List<String> problems) {
        super(String.join(System.lineSeparator(), problems));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("an invalid document has at least one problem");
        }
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}

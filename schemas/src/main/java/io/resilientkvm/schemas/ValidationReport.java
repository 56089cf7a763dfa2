package io.resilientkvm.schemas;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;

/**
 * The outcome of validating one document: every violation found, and the document with the
 * schema's defaults filled in (meaningful only when valid).
 */
public record ValidationReport(SchemaKind kind, List<Violation> violations, ObjectNode effective) {
    public ValidationReport {
        violations = List.copyOf(violations);
        effective = effective.deepCopy();
    }

    public boolean valid() {
        return violations.isEmpty();
    }

    @Override
    public ObjectNode effective() {
        return effective.deepCopy();
    }

    /**
     * The effective document, or an exception listing every violation, each prefixed with
     * {@code source} (a file name) so an operator knows where to look.
     */
    public ObjectNode orThrow(Path source) throws InvalidDocumentException {
        if (!valid()) {
            String where = source == null ? "" : source + ": ";
            throw new InvalidDocumentException(violations.stream().map(v -> where + v).toList());
        }
        return effective();
    }
}

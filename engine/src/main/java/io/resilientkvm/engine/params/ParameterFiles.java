package io.resilientkvm.engine.params;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.schemas.InvalidDocumentException;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import io.resilientkvm.schemas.ValidationReport;
import java.nio.file.Path;
import java.util.Optional;

/** Reads, validates and types an instance parameters file; every problem becomes one line of a {@link BadInputException}. */
public final class ParameterFiles {
    private ParameterFiles() {
    }

    /**
     * Reads {@code file} as {@code kind} ({@link SchemaKind#KVM_INSTANCE} or
     * {@link SchemaKind#RESILIENT_INSTANCE}).
     */
    public static InstanceParameters load(Path file, SchemaKind kind) throws BadInputException {
        ObjectNode effective = validate(file, kind).effective();
        KvmParameters kvm = KvmParameters.fromEffective(effective);
        Optional<ResilientParameters> resilient = kind == SchemaKind.RESILIENT_INSTANCE
                ? Optional.of(ResilientParameters.fromEffective(effective)) : Optional.empty();
        return new InstanceParameters(kvm, resilient);
    }

    /** The validation report of {@code file}; throws when the file cannot be read as JSON or breaks a rule. */
    public static ValidationReport validate(Path file, SchemaKind kind) throws BadInputException {
        try {
            ValidationReport report = ParameterValidator.of(kind).validate(JsonDocuments.readObject(file));
            report.orThrow(file);
            return report;
        } catch (InvalidDocumentException e) {
            throw new BadInputException(e.problems());
        }
    }
}

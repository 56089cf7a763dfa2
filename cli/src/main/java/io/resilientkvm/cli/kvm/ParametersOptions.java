package io.resilientkvm.cli.kvm;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.schemas.InvalidDocumentException;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import java.nio.file.Path;
import java.util.Set;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The parameters file and its kind, shared by the kvm subcommands. */
final class ParametersOptions {
    enum Kind { AUTO, KVM, KVM_RESILIENT }

    @Parameters(index = "0", paramLabel = "PARAMS.json", description = "instance parameters (JSON object)")
    Path file;

    @Option(names = "--kind", paramLabel = "KIND", defaultValue = "auto",
            description = "kvm, kvm_resilient or auto (resilient when the file holds a resilient-only parameter); default ${DEFAULT-VALUE}")
    Kind kind;

    /** The schema the file is checked against. */
    SchemaKind schemaKind() throws BadInputException {
        return switch (kind) {
            case KVM -> SchemaKind.KVM_INSTANCE;
            case KVM_RESILIENT -> SchemaKind.RESILIENT_INSTANCE;
            case AUTO -> detect();
        };
    }

    private SchemaKind detect() throws BadInputException {
        Set<String> kvm = ParameterValidator.of(SchemaKind.KVM_INSTANCE).knownNames();
        Set<String> resilient = ParameterValidator.of(SchemaKind.RESILIENT_INSTANCE).knownNames();
        try {
            var names = JsonDocuments.readObject(file).properties().stream().map(java.util.Map.Entry::getKey).toList();
            boolean any = names.stream().anyMatch(n -> resilient.contains(n) && !kvm.contains(n));
            return any ? SchemaKind.RESILIENT_INSTANCE : SchemaKind.KVM_INSTANCE;
        } catch (InvalidDocumentException e) {
            throw new BadInputException(e.problems());
        }
    }
}

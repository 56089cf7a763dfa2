package io.resilientkvm.cli.kvm;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.schemas.InvalidDocumentException;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import io.resilientkvm.schemas.ValidationReport;
import io.resilientkvm.schemas.Violation;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "validate", mixinStandardHelpOptions = true,
        description = {"Checks instance parameters against the schema and the cross-parameter rules.",
                "Prints every problem at once, one per line, and exits 2; exits 0 when the file is valid."})
final class ValidateCommand extends CliCommand {
    @Mixin
    ParametersOptions params;

    @Option(names = "--json", description = "print {valid, kind, violations, effective} as JSON (effective has the defaults filled in)")
    boolean json;

    @Option(names = "--effective", description = "print the parameters with every default filled in")
    boolean effective;

    @Override
    protected ExitStatus execute() throws Exception {
        SchemaKind kind = params.schemaKind();
        ObjectNode doc;
        try {
            doc = JsonDocuments.readObject(params.file);
        } catch (InvalidDocumentException e) {
            throw new BadInputException(e.problems());
        }
        ValidationReport report = ParameterValidator.of(kind).validate(doc);
        if (json) {
            ObjectNode r = JSON.createObjectNode().put("file", params.file.toString()).put("kind", kind.name().toLowerCase(java.util.Locale.ROOT))
                    .put("valid", report.valid());
            var list = r.putArray("violations");
            for (Violation v : report.violations()) {
                list.addObject().put("parameter", v.parameter()).put("value", v.value()).put("rule", v.rule());
            }
            r.set("effective", report.effective());
            printJson(r);
            return report.valid() ? ExitStatus.OK : ExitStatus.BAD_INPUT;
        }
        report.orThrow(params.file); // one line per problem, exit 2
        print(effective, report.effective(), params.file + ": valid " + kind.what() + " (" + doc.size() + " given, "
                + (report.effective().size() - doc.size()) + " defaults applied)");
        return ExitStatus.OK;
    }
}

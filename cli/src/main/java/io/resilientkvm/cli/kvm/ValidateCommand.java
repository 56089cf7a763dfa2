package io.resilientkvm.cli.kvm;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.schemas.InvalidDocumentException;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import io.resilientkvm.schemas.ValidationReport;
import io.resilientkvm.schemas.Violation;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "validate", mixinStandardHelpOptions = true,
        description = {"Checks instance parameters against the schema and the cross-parameter rules.",
                "Prints every problem at once, one per line, and exits 2; exits 0 when the file is valid."})
final class ValidateCommand implements Callable<Integer> {
    @Mixin
    ParametersOptions params;

    @Option(names = "--json", description = "print {valid, kind, violations, effective} as JSON (effective has the defaults filled in)")
    boolean json;

    @Option(names = "--effective", description = "print the parameters with every default filled in")
    boolean effective;

    @Mixin
    io.resilientkvm.cli.CommonOptions common;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        SchemaKind kind = params.schemaKind();
        ObjectNode doc;
        try {
            doc = JsonDocuments.readObject(params.file);
        } catch (InvalidDocumentException e) {
            throw new BadInputException(e.problems());
        }
        ValidationReport report = ParameterValidator.of(kind).validate(doc);
        var out = spec.commandLine().getOut();
        ObjectMapper mapper = new ObjectMapper();
        if (json) {
            ObjectNode r = mapper.createObjectNode().put("file", params.file.toString()).put("kind", kind.name().toLowerCase(java.util.Locale.ROOT))
                    .put("valid", report.valid());
            var list = r.putArray("violations");
            for (Violation v : report.violations()) {
                list.addObject().put("parameter", v.parameter()).put("value", v.value()).put("rule", v.rule());
            }
            r.set("effective", report.effective());
            out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(r));
            out.flush();
            return (report.valid() ? ExitStatus.OK : ExitStatus.BAD_INPUT).code();
        }
        report.orThrow(params.file); // one line per problem, exit 2
        if (effective) {
            out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(report.effective()));
        } else {
            out.println(params.file + ": valid " + kind.what() + " (" + doc.size() + " given, "
                    + (report.effective().size() - doc.size()) + " defaults applied)");
        }
        out.flush();
        return ExitStatus.OK.code();
    }
}

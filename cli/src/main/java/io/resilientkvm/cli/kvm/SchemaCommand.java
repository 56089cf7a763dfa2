package io.resilientkvm.cli.kvm;

import com.fasterxml.jackson.databind.JsonNode;
import io.resilientkvm.cli.CliCommand;
import io.resilientkvm.engine.error.ExitStatus;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "schema", mixinStandardHelpOptions = true,
        description = "Lists the parameters of a schema with their defaults and meaning, or prints the JSON Schema.")
final class SchemaCommand extends CliCommand {
    @Parameters(index = "0", arity = "0..1", defaultValue = "kvm_instance", paramLabel = "SCHEMA",
            description = "kvm_instance, resilient_instance or node_config; default ${DEFAULT-VALUE}")
    SchemaKind kind;

    @Option(names = "--json", description = "print the JSON Schema itself")
    boolean json;

    @Override
    protected ExitStatus execute() throws Exception {
        ParameterValidator v = ParameterValidator.of(kind);
        if (json) {
            printJson(v.schemaDocument());
            return ExitStatus.OK;
        }
        var out = out();
        for (String name : v.knownNames()) {
            JsonNode p = v.parameterSchema(name).orElseThrow();
            String def = p.has("default") ? " (default: " + p.get("default") + ")" : "";
            out.printf("%-36s %s%s%n", name, p.path("description").asText(""), def);
        }
        return ExitStatus.OK;
    }
}

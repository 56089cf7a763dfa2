package io.resilientkvm.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import com.networknt.schema.path.NodePath;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.StreamSupport;

/**
 * Validates a document against its JSON Schema and reports every violation at once, each
 * naming the parameter, the value and the rule in words, never the schema's internals.
 *
 * <p>On top of the schema (networknt json-schema-validator, draft 2020-12) it adds what JSON
 * Schema says badly: unknown names with the closest known one ("did you mean ram-size?"), hints
 * when a number or boolean was written as a string, and the cross-parameter rules of
 * {@link CrossRules}. The effective document carries the schema's defaults, so the schema is
 * the one place a default is written down.
 */
public final class ParameterValidator {
    private static final String BASE = "io/resilientkvm/schemas/";
    private static final Map<SchemaKind, ParameterValidator> CACHE = new ConcurrentHashMap<>();
    private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);

    private final SchemaKind kind;
    private final Schema schema;
    private final JsonNode raw;

    private ParameterValidator(SchemaKind kind) {
        this.kind = kind;
        this.raw = load(kind.resource());
        this.schema = REGISTRY.getSchema(SchemaLocation.of("classpath:" + BASE + kind.resource()));
    }

    /** The validator of {@code kind}; schemas are loaded once. */
    public static ParameterValidator of(SchemaKind kind) {
        return CACHE.computeIfAbsent(kind, ParameterValidator::new);
    }

    public SchemaKind kind() {
        return kind;
    }

    /** The names a document of this kind may hold at its top level, sorted as in the schema. */
    public Set<String> knownNames() {
        return propertiesOf(raw).keySet();
    }

    /** The schema of a top-level parameter (including those inherited through {@code allOf}), if known. */
    public Optional<JsonNode> parameterSchema(String name) {
        return Optional.ofNullable(propertiesOf(raw).get(name)).map(JsonNode::deepCopy);
    }

    /** The raw JSON Schema, for documentation and tooling. */
    public JsonNode schemaDocument() {
        return raw.deepCopy();
    }

    public ValidationReport validate(ObjectNode document) {
        List<Violation> violations = new ArrayList<>();
        unknownNames(document, raw, "", true, violations);
        violations.addAll(schemaViolations(document));
        ObjectNode effective = document.deepCopy();
        applyDefaults(effective, raw);
        if (kind == SchemaKind.KVM_INSTANCE || kind == SchemaKind.RESILIENT_INSTANCE) {
            violations.addAll(CrossRules.check(effective, document));
        }
        if (kind == SchemaKind.RESILIENT_INSTANCE) {
            violations.addAll(CrossRules.resilient(effective));
        }
        return new ValidationReport(kind, violations, effective);
    }

    private List<Violation> schemaViolations(ObjectNode document) {
        List<Error> errors = schema.validate(document);
        Map<String, List<Error>> byLocation = new LinkedHashMap<>();
        for (Error e : errors) {
            if ("additionalProperties".equals(e.getKeyword())) {
                continue; // reported by unknownNames, with a suggestion
            }
            byLocation.computeIfAbsent(name(e.getInstanceLocation()), k -> new ArrayList<>()).add(e);
        }
        List<Violation> out = new ArrayList<>();
        for (Map.Entry<String, List<Error>> entry : byLocation.entrySet()) {
            List<Error> here = entry.getValue();
            Optional<Error> alternatives = here.stream()
                    .filter(e -> "oneOf".equals(e.getKeyword()) || "anyOf".equals(e.getKeyword())).findFirst();
            if (alternatives.isPresent()) {
                // Branch-by-branch errors confuse; say what the parameter should look like.
                JsonNode sub = schemaAt(entry.getKey());
                String form = sub != null && sub.has("description") ? sub.get("description").asText() : "see the schema";
                out.add(new Violation(entry.getKey(), render(alternatives.get().getInstanceNode()), "does not have the expected form: " + form));
                continue;
            }
            Set<String> seen = new LinkedHashSet<>();
            for (Error e : here) {
                if ("required".equals(e.getKeyword())) {
                    String missing = e.getProperty() != null ? e.getProperty() : String.valueOf(e.getArguments()[0]);
                    String at = entry.getKey().isEmpty() ? missing : entry.getKey() + "." + missing;
                    out.add(new Violation(at, null, "is required"));
                    continue;
                }
                if ("propertyNames".equals(e.getKeyword())) {
                    // Name the refused key itself (JSON-quoted, so a newline in it cannot break the one-line report).
                    for (String name : refusedNames(e)) {
                        if (seen.add("propertyNames " + name)) {
                            out.add(new Violation(entry.getKey(), JsonNodeFactory.instance.textNode(name).toString(), rule(e, entry.getKey())));
                        }
                    }
                    continue;
                }
                String rule = rule(e, entry.getKey());
                if (seen.add(rule)) {
                    out.add(new Violation(entry.getKey(), render(e.getInstanceNode()), rule));
                }
            }
        }
        return out;
    }

    /** The keys of the object in {@code e} that break its {@code propertyNames} pattern or length. */
    private static List<String> refusedNames(Error e) {
        JsonNode names = e.getSchemaNode();
        Pattern pattern = names.has("pattern") ? Pattern.compile(names.get("pattern").asText()) : null;
        int min = names.path("minLength").asInt(0);
        List<String> out = new ArrayList<>();
        e.getInstanceNode().fieldNames().forEachRemaining(name -> {
            if (name.length() < min || (pattern != null && !pattern.matcher(name).find())) {
                out.add(name);
            }
        });
        return out;
    }

    private String rule(Error e, String parameter) {
        JsonNode sn = e.getSchemaNode();
        JsonNode value = e.getInstanceNode();
        JsonNode sub = schemaAt(parameter);
        String described = sub != null && sub.has("description") ? " (" + sub.get("description").asText() + ")" : "";
        return switch (e.getKeyword()) {
            case "minimum" -> "must be at least " + sn.asText() + described;
            case "maximum" -> "must be at most " + sn.asText() + described;
            case "minLength" -> "must not be empty";
            case "maxLength" -> "is too long (at most " + sn.asText() + " characters)";
            case "uniqueItems" -> "must not repeat a value";
            case "pattern" -> "does not have the expected form" + described;
            case "propertyNames" -> "has a name that is not allowed: a name must not be empty nor hold control characters (newline, tab):"
                    + " it identifies the disk in messages and in etc/.data-disk-ids";
            case "enum" -> {
                List<String> allowed = StreamSupport.stream(sn.spliterator(), false).map(JsonNode::asText).toList();
                String hint = value != null && value.isTextual()
                        ? NameSuggester.closest(value.asText(), allowed).map(s -> "; did you mean " + s + "?").orElse("") : "";
                yield "must be one of " + String.join(", ", allowed) + hint;
            }
            case "type" -> typeRule(sn.isArray() ? StreamSupport.stream(sn.spliterator(), false)
                    .map(JsonNode::asText).reduce((a, b) -> a + " or " + b).orElse("?") : sn.asText(), value);
            case "const" -> "must be " + sn + described;
            default -> e.getMessage();
        };
    }

    private static String typeRule(String expected, JsonNode value) {
        String article = expected.matches("^[aeiou].*") ? "an " : "a ";
        String base = "null".equals(expected) ? "must be null" : "must be " + article + expected;
        if (value != null && value.isTextual()) {
            String t = value.asText().trim();
            if (("integer".equals(expected) || "number".equals(expected)) && t.matches("-?[0-9]+(\\.[0-9]+)?")) {
                return base + ", not a string: write " + t + " without quotes";
            }
            if ("boolean".equals(expected) && t.toLowerCase(Locale.ROOT).matches("true|false")) {
                return base + ", not a string: write " + t.toLowerCase(Locale.ROOT) + " without quotes";
            }
        }
        return base + (value == null ? "" : ", found " + value.getNodeType().name().toLowerCase(Locale.ROOT));
    }

    /** Unknown names, at the top level and wherever the schema closes an object. */
    private void unknownNames(JsonNode doc, JsonNode schemaNode, String path, boolean top, List<Violation> out) {
        if (!doc.isObject() || schemaNode == null) {
            return;
        }
        Map<String, JsonNode> props = propertiesOf(schemaNode);
        JsonNode additional = schemaNode.get("additionalProperties");
        boolean closed = top || (additional != null && additional.isBoolean() && !additional.asBoolean());
        for (Iterator<Map.Entry<String, JsonNode>> it = doc.properties().iterator(); it.hasNext();) {
            Map.Entry<String, JsonNode> f = it.next();
            String at = path.isEmpty() ? f.getKey() : path + "." + f.getKey();
            JsonNode child = props.get(f.getKey());
            if (child == null && additional != null && additional.isObject()) {
                child = additional;
            }
            if (child == null) {
                if (closed) {
                    String hint = NameSuggester.closest(f.getKey(), props.keySet()).map(s -> "; did you mean " + s + "?")
                            .orElse("; known names are listed by 'bin/kvm schema'");
                    out.add(new Violation(at, render(f.getValue()), "is not a known " + (top ? "parameter" : "option") + hint));
                }
                continue;
            }
            unknownNames(f.getValue(), child, at, false, out);
        }
    }

    private void applyDefaults(ObjectNode doc, JsonNode schemaNode) {
        for (Map.Entry<String, JsonNode> p : propertiesOf(schemaNode).entrySet()) {
            JsonNode def = p.getValue().get("default");
            if (!doc.has(p.getKey()) && def != null) {
                doc.set(p.getKey(), def.deepCopy());
            }
            if (doc.get(p.getKey()) instanceof ObjectNode child) {
                applyDefaults(child, p.getValue());
            }
        }
        JsonNode additional = schemaNode.get("additionalProperties");
        if (additional != null && additional.isObject()) {
            Set<String> declared = propertiesOf(schemaNode).keySet();
            for (Iterator<Map.Entry<String, JsonNode>> it = doc.properties().iterator(); it.hasNext();) {
                Map.Entry<String, JsonNode> f = it.next();
                if (!declared.contains(f.getKey()) && f.getValue() instanceof ObjectNode child) {
                    applyDefaults(child, additional);
                }
            }
        }
    }

    /** The sub-schema of a dotted parameter path, or null. */
    private JsonNode schemaAt(String dotted) {
        if (dotted.isEmpty()) {
            return raw;
        }
        JsonNode node = raw;
        for (String part : dotted.split("\\.")) {
            JsonNode next = propertiesOf(node).get(part);
            if (next == null && node.path("additionalProperties").isObject()) {
                next = node.get("additionalProperties");
            }
            if (next == null) {
                return null;
            }
            node = next;
        }
        return node;
    }

    /** {@code properties}, merged with those of {@code allOf} references (the resilient schema extends the KVM one). */
    private static Map<String, JsonNode> propertiesOf(JsonNode schemaNode) {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        for (JsonNode part : schemaNode.path("allOf")) {
            JsonNode target = part.has("$ref") ? load(part.get("$ref").asText()) : part;
            out.putAll(propertiesOf(target));
        }
        schemaNode.path("properties").properties().forEach(f -> out.put(f.getKey(), f.getValue()));
        return out;
    }

    private static String name(NodePath path) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < path.getNameCount(); i++) {
            if (sb.length() > 0) {
                sb.append('.');
            }
            sb.append(path.getElement(i));
        }
        return sb.toString();
    }

    static String render(JsonNode value) {
        if (value == null || value.isMissingNode()) {
            return null;
        }
        String s = value.toString();
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }

    private static final Map<String, JsonNode> RAW = new ConcurrentHashMap<>();

    private static JsonNode load(String resource) {
        return RAW.computeIfAbsent(resource, r -> {
            try (InputStream in = ParameterValidator.class.getClassLoader().getResourceAsStream(BASE + r)) {
                if (in == null) {
                    throw new IllegalStateException("schema " + BASE + r + " is missing from the classpath");
                }
                return JsonDocuments.mapper().readTree(in);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read schema " + r, e);
            }
        });
    }
}

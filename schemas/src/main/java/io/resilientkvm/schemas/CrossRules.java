package io.resilientkvm.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rules that involve several parameters, which JSON Schema expresses badly. They read the
 * effective document (defaults applied) and skip values of the wrong type, which the schema
 * already reports.
 */
final class CrossRules {
    /** NAT host ports are 10000 + guest port, and must stay a valid port. */
    static final int NAT_PORT_OFFSET = 10000;
    /** Image formats QEMU's drivers open read-only only: attaching them read-write fails at start. */
    private static final Set<String> READ_ONLY_FORMATS = Set.of("cloop", "bochs", "dmg");

    private CrossRules() {
    }

    static List<Violation> check(ObjectNode p, ObjectNode original) {
        List<Violation> out = new ArrayList<>();
        externalDisks(p, out);
        if (p.path("enable-http-server").asBoolean(false) && p.path("use-nat").isBoolean() && !p.path("use-nat").asBoolean()) {
            out.add(new Violation("enable-http-server", "true",
                    "requires use-nat = true: the guest reaches the file server at 10.0.2.100 through the NAT interface"));
        }
        natRules(p, out);
        cpuTopology(p, out);
        for (String sum : List.of("virtual-hard-drive-md5sum", "virtual-hard-drive-sha256sum")) {
            if (original.has(sum) && !p.hasNonNull("virtual-hard-drive-url")) {
                out.add(new Violation(sum, ParameterValidator.render(original.get(sum)),
                        "is given without virtual-hard-drive-url: add the URL or remove the checksum"));
            }
        }
        if (p.path("nbd2-host").isTextual() && !p.path("nbd-host").isTextual()) {
            out.add(new Violation("nbd2-host", ParameterValidator.render(p.get("nbd2-host")), "requires nbd-host (the first NBD drive)"));
        }
        placement(p, out);
        return out;
    }

    private static void externalDisks(ObjectNode p, List<Violation> out) {
        JsonNode disks = p.path("external-disk");
        if (!disks.isObject() || disks.isEmpty()) {
            return;
        }
        int legacy = p.path("external-disk-number").asInt(0);
        if (legacy > 0) {
            out.add(new Violation("external-disk", null, "cannot be used together with external-disk-number = " + legacy
                    + ": for the sake of your data the VM will not start; move every disk to external-disk and remove "
                    + "external-disk-number, external-disk-size and external-disk-format (see docs/instance.md, section External disks)"));
        }
        Map<Integer, String> byIndex = new HashMap<>();
        Map<String, String> byQemuId = new HashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = disks.properties().iterator(); it.hasNext();) {
            Map.Entry<String, JsonNode> d = it.next();
            if (!ExternalDiskNames.printable(d.getKey())) {
                continue; // reported by the schema; repeating it would print the control character
            }
            String sameId = byQemuId.putIfAbsent(ExternalDiskNames.qemuId(d.getKey()), d.getKey());
            if (sameId != null) {
                // Practically never (same 12 first characters and same 32-bit hash), but two disks must not share a node.
                out.add(new Violation("external-disk." + d.getKey(), null, "derives the same QEMU id "
                        + ExternalDiskNames.qemuId(d.getKey()) + " as external-disk." + sameId + ": rename one of them"));
            }
            JsonNode format = d.getValue().path("format");
            if (format.isTextual() && READ_ONLY_FORMATS.contains(format.asText()) && !d.getValue().path("read-only").asBoolean(false)) {
                out.add(new Violation("external-disk." + d.getKey() + ".format", format.toString(), "is opened read-only by QEMU:"
                        + " set \"read-only\": true on this disk, or convert the image (qemu-img convert -O qcow2)"));
            }
            JsonNode index = d.getValue().path("index");
            if (index.isMissingNode()) {
                if (disks.size() > 1) {
                    out.add(new Violation("external-disk." + d.getKey() + ".index", null,
                            "is required when there is more than one external disk: it fixes the order the guest sees"));
                }
                continue;
            }
            if (index.isInt()) {
                String other = byIndex.putIfAbsent(index.asInt(), d.getKey());
                if (other != null) {
                    out.add(new Violation("external-disk." + d.getKey() + ".index", index.toString(),
                            "is already used by external-disk." + other + ": each disk needs its own index"));
                }
            }
        }
    }

    private static void natRules(ObjectNode p, List<Violation> out) {
        JsonNode rules = p.path("nat-rules");
        if (!rules.isTextual()) {
            return;
        }
        String text = rules.asText().trim();
        if (text.isEmpty() || !text.matches("[0-9\\s]+")) {
            return;
        }
        for (String port : text.split("\\s+")) {
            int v = Integer.parseInt(port);
            if (v < 1 || v + NAT_PORT_OFFSET > 65535) {
                out.add(new Violation("nat-rules", rules.toString(), "port " + v + " is out of range: guest ports go from 1 to "
                        + (65535 - NAT_PORT_OFFSET) + " (the host listens on 10000 + port)"));
            }
        }
    }

    private static void cpuTopology(ObjectNode p, List<Violation> out) {
        JsonNode options = p.path("cpu-options");
        int cpus = p.path("cpu-count").asInt(1);
        if (!options.isTextual() || !options.asText().matches("^[a-z]+=[0-9]+(,[a-z]+=[0-9]+)*$")) {
            return;
        }
        Map<String, Integer> t = new HashMap<>();
        for (String kv : options.asText().split(",")) {
            String[] parts = kv.split("=");
            if (t.put(parts[0], Integer.parseInt(parts[1])) != null) {
                out.add(new Violation("cpu-options", options.toString(), parts[0] + " is given twice"));
            }
        }
        Integer max = t.get("maxcpus");
        if (max != null && max < cpus) {
            out.add(new Violation("cpu-options", options.toString(), "maxcpus = " + max + " is below cpu-count = " + cpus));
        }
        if (t.containsKey("cores") && t.containsKey("threads") && t.containsKey("sockets")) {
            int product = t.get("cores") * t.get("threads") * t.get("sockets");
            int needed = max != null ? max : cpus;
            if (product != needed) {
                out.add(new Violation("cpu-options", options.toString(), "sockets x cores x threads = " + product
                        + " must equal " + (max != null ? "maxcpus = " : "cpu-count = ") + needed));
            }
        }
    }

    /** Rules of the resilient parameters only. */
    static List<Violation> resilient(ObjectNode p) {
        List<Violation> out = new ArrayList<>();
        JsonNode automatic = p.path("takeover-automatic");
        if (automatic.isBoolean() && automatic.booleanValue()) {
            // Accepting it would promise a failover that never comes.
            out.add(new Violation("takeover-automatic", "true", "automatic takeover is not implemented yet: remove it or set false,"
                    + " and when the main is lost run bin/takeover --config NODE.json on the clone that should become the main"
                    + " (see docs/takeover.md)"));
        }
        return out;
    }

    private static void placement(ObjectNode p, List<Violation> out) {
        Map<String, String> seen = new HashMap<>();
        for (int i = 0; i < 3; i++) {
            String key = "-sla-" + i + "-computer_guid";
            JsonNode v = p.path(key);
            if (v.isTextual()) {
                String other = seen.putIfAbsent(v.asText(), key);
                if (other != null) {
                    out.add(new Violation(key, v.toString(), "is the same node as " + other
                            + ": the main and the two clones must be on different nodes, or a node loss takes two copies"));
                }
            }
        }
    }
}

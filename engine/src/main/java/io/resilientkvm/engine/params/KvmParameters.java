package io.resilientkvm.engine.params;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.resilientkvm.engine.disk.LegacyExternalDisks;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The typed KVM instance parameters, built from a document already validated against
 * {@code instance-kvm-input-schema.json} with its defaults applied (see {@link ParameterFiles}).
 * Sizes keep the seed's units: RAM in MiB, disks in GiB.
 */
public record KvmParameters(
        int ramSizeMiB,
        int diskSizeGiB,
        DiskType diskType,
        int cpuCount,
        CpuTopology cpuTopology,
        List<NumaNode> numa,
        List<Integer> natRules,
        boolean useNat,
        boolean useTap,
        boolean enableVhost,
        Optional<ImageSource> image,
        List<ExternalDiskParameter> externalDisks,
        LegacyExternalDisks legacyExternalDisks,
        GuestFiles guestFiles,
        String keyboardLayout,
        Optional<NbdDrive> nbd,
        Optional<NbdDrive> nbd2,
        Frontend frontend,
        boolean natRestrict) {

    public KvmParameters {
        Objects.requireNonNull(diskType, "diskType");
        Objects.requireNonNull(cpuTopology, "cpuTopology");
        numa = List.copyOf(numa);
        natRules = List.copyOf(natRules);
        externalDisks = externalDisks.stream().sorted(Comparator.comparingInt(ExternalDiskParameter::index)
                .thenComparing(ExternalDiskParameter::name)).toList();
        Objects.requireNonNull(image, "image");
        Objects.requireNonNull(legacyExternalDisks, "legacyExternalDisks");
        Objects.requireNonNull(guestFiles, "guestFiles");
        Objects.requireNonNull(keyboardLayout, "keyboardLayout");
    }

    /** Builds the parameters from a validated document with defaults applied. */
    public static KvmParameters fromEffective(ObjectNode p) {
        Optional<ImageSource> image = text(p, "virtual-hard-drive-url").map(url -> new ImageSource(URI.create(url),
                text(p, "virtual-hard-drive-md5sum"), text(p, "virtual-hard-drive-sha256sum"), p.path("virtual-hard-drive-gzipped").asBoolean(false),
                p.path("hard-drive-url-check-certificate").asBoolean(true)));
        return new KvmParameters(
                p.path("ram-size").asInt(),
                p.path("disk-size").asInt(),
                DiskType.fromParameter(p.path("disk-type").asText()),
                p.path("cpu-count").asInt(),
                CpuTopology.parse(p.path("cpu-options").asText("")),
                NumaNode.parseAll(p.path("numa").asText("")),
                natRules(p.path("nat-rules")),
                p.path("use-nat").asBoolean(),
                p.path("use-tap").asBoolean(),
                p.path("enable-vhost").asBoolean(),
                image,
                externalDisks(p.path("external-disk")),
                new LegacyExternalDisks(p.path("external-disk-number").asInt(), p.path("external-disk-size").asInt(),
                        p.path("external-disk-format").asText()),
                new GuestFiles(p.path("enable-http-server").asBoolean(), p.path("httpd-port").asInt(),
                        text(p, "authorized-key"), text(p, "data-to-vm")),
                p.path("keyboard-layout-language").asText(),
                text(p, "nbd-host").map(h -> new NbdDrive(h, p.path("nbd-port").asInt())),
                text(p, "nbd2-host").map(h -> new NbdDrive(h, p.path("nbd2-port").asInt())),
                new Frontend(p.path("frontend-software-type").asText(), p.path("frontend-software-url").asText(),
                        text(p, "frontend-instance-guid"), text(p, "frontend-addtional-instance-guid"),
                        p.path("frontend-instance-name").asText()),
                p.path("nat-restrict-mode").asBoolean(false));
    }

    private static Optional<String> text(JsonNode p, String name) {
        JsonNode v = p.get(name);
        return v == null || v.isNull() || v.asText().isEmpty() ? Optional.empty() : Optional.of(v.asText());
    }

    private static List<Integer> natRules(JsonNode rules) {
        List<Integer> out = new ArrayList<>();
        if (rules.isArray()) {
            rules.forEach(r -> out.add(r.asInt()));
        } else if (rules.isTextual() && !rules.asText().isBlank()) {
            for (String port : rules.asText().trim().split("\\s+")) {
                Integer v = Integer.valueOf(port);
                if (!out.contains(v)) {
                    out.add(v);
                }
            }
        }
        return out;
    }

    private static List<ExternalDiskParameter> externalDisks(JsonNode disks) {
        List<ExternalDiskParameter> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = disks.properties().iterator(); it.hasNext();) {
            Map.Entry<String, JsonNode> d = it.next();
            JsonNode v = d.getValue();
            out.add(new ExternalDiskParameter(d.getKey(), Path.of(v.path("path").asText()), v.path("index").asInt(0),
                    text(v, "format"), v.path("cache").asText("writeback"), v.path("discard").asBoolean(true),
                    v.path("read-only").asBoolean(false)));
        }
        return out;
    }
}

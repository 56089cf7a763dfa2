package io.resilientkvm.engine.params;

import java.util.ArrayList;
import java.util.List;

/**
 * One entry of {@code numa}: {@code node[,nodeid=N][,cpus=A-B[,C]...]}. {@code nodeId} is -1
 * when QEMU should number the node.
 */
public record NumaNode(int nodeId, List<String> cpus) {
    public NumaNode {
        cpus = List.copyOf(cpus);
    }

    /** Parses the validated, space-separated {@code numa} parameter. */
    public static List<NumaNode> parseAll(String numa) {
        List<NumaNode> out = new ArrayList<>();
        if (numa == null || numa.isBlank()) {
            return out;
        }
        for (String entry : numa.trim().split("\\s+")) {
            String[] parts = entry.split(",");
            if (!"node".equals(parts[0])) {
                throw new IllegalArgumentException("numa entry '" + entry + "' must start with 'node'");
            }
            int id = -1;
            List<String> cpus = new ArrayList<>();
            for (int i = 1; i < parts.length; i++) {
                String p = parts[i];
                if (p.startsWith("nodeid=")) {
                    id = Integer.parseInt(p.substring(7));
                } else if (p.startsWith("cpus=")) {
                    cpus.add(p.substring(5));
                } else if (p.matches("[0-9]+(-[0-9]+)?") && !cpus.isEmpty()) {
                    cpus.add(p); // the seed's "cpus=1,3,7" form: a list continues the previous cpus=
                } else {
                    throw new IllegalArgumentException("numa entry '" + entry + "' has an unknown part '" + p + "'");
                }
            }
            out.add(new NumaNode(id, cpus));
        }
        return out;
    }
}

package io.resilientkvm.engine.params;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code cpu-options}: {@code [cores=N][,threads=N][,sockets=N][,maxcpus=N]}; 0 means "let
 * QEMU compute it".
 */
public record CpuTopology(int cores, int threads, int sockets, int maxcpus) {
    public static final CpuTopology UNSET = new CpuTopology(0, 0, 0, 0);

    public CpuTopology {
        if (cores < 0 || threads < 0 || sockets < 0 || maxcpus < 0) {
            throw new IllegalArgumentException("cpu-options values must be positive");
        }
    }

    /** Parses the validated form; an empty string is {@link #UNSET}. */
    public static CpuTopology parse(String options) {
        if (options == null || options.isBlank()) {
            return UNSET;
        }
        Map<String, Integer> v = new LinkedHashMap<>();
        for (String kv : options.split(",")) {
            String[] p = kv.split("=", 2);
            if (p.length != 2) {
                throw new IllegalArgumentException("cpu-options entry '" + kv + "' is not NAME=NUMBER");
            }
            v.put(p[0].trim(), Integer.parseInt(p[1].trim()));
        }
        return new CpuTopology(v.getOrDefault("cores", 0), v.getOrDefault("threads", 0), v.getOrDefault("sockets", 0),
                v.getOrDefault("maxcpus", 0));
    }

    /** The {@code -smp} value for {@code cpus} CPUs. */
    public String smp(int cpus) {
        StringBuilder sb = new StringBuilder("cpus=").append(cpus);
        if (sockets > 0) {
            sb.append(",sockets=").append(sockets);
        }
        if (cores > 0) {
            sb.append(",cores=").append(cores);
        }
        if (threads > 0) {
            sb.append(",threads=").append(threads);
        }
        if (maxcpus > 0) {
            sb.append(",maxcpus=").append(maxcpus);
        }
        return sb.toString();
    }
}

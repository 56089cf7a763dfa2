package io.resilientkvm.engine.tls;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * Whether a host stays on this machine: where plain HTTP and an unpinned server may still be
 * accepted. Literal addresses and {@code localhost} only; any other name counts as beyond
 * loopback (it is not looked up, so a resolver cannot make it look local).
 */
public final class Loopback {
    private Loopback() {
    }

    /** True for a loopback literal ({@code 127.0.0.0/8}, {@code ::1}, bracketed or not) or {@code localhost}. */
    public static boolean is(String host) {
        if (host == null || host.isBlank()) {
            return false;
        }
        String h = host.strip().replaceAll("^\\[|\\]$", "");
        if (h.equalsIgnoreCase("localhost")) {
            return true;
        }
        if (!h.contains(":") && !h.matches("[0-9.]+")) {
            return false;
        }
        try {
            return InetAddress.getByName(h).isLoopbackAddress(); // a literal: no lookup
        } catch (UnknownHostException e) {
            return false;
        }
    }
}

package io.resilientkvm.engine.qmp;

import java.util.List;

/** What QEMU announced when the connection opened. */
public record QmpGreeting(int major, int minor, int micro, String packageName, List<String> capabilities) {
    public QmpGreeting {
        capabilities = List.copyOf(capabilities);
    }

    /** True when this QEMU is at least {@code major.minor}. */
    public boolean atLeast(int wantMajor, int wantMinor) {
        return major > wantMajor || (major == wantMajor && minor >= wantMinor);
    }

    public String version() {
        return major + "." + minor + "." + micro;
    }
}

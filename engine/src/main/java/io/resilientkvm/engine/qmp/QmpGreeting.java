package io.resilientkvm.engine.qmp;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/** What QEMU announced when the connection opened. */
public record QmpGreeting(int major, int minor, int micro, String packageName, List<String> capabilities) {
    public QmpGreeting {
        capabilities = List.copyOf(capabilities);
    }

    /** Reads QEMU's greeting message, {@code {"QMP": {"version": ..., "capabilities": [...]}}}. */
    static QmpGreeting of(JsonNode hello) {
        JsonNode version = hello.path("QMP").path("version");
        List<String> caps = new ArrayList<>();
        hello.path("QMP").path("capabilities").forEach(c -> caps.add(c.asText()));
        return new QmpGreeting(version.path("qemu").path("major").asInt(), version.path("qemu").path("minor").asInt(),
                version.path("qemu").path("micro").asInt(), version.path("package").asText(""), caps);
    }

    /** True when this QEMU is at least {@code major.minor}. */
    public boolean atLeast(int wantMajor, int wantMinor) {
        return major > wantMajor || (major == wantMajor && minor >= wantMinor);
    }

    public String version() {
        return major + "." + minor + "." + micro;
    }
}

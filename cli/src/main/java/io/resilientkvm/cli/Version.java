package io.resilientkvm.cli;

import picocli.CommandLine.IVersionProvider;

/** The version printed by {@code --version}: the jar's implementation version, or "development". */
public final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() {
        String v = Version.class.getPackage().getImplementationVersion();
        return new String[] {"resilient-kvm " + (v == null ? "development build" : v), "Java " + System.getProperty("java.version")};
    }
}

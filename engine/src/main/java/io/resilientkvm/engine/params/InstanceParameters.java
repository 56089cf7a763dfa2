package io.resilientkvm.engine.params;

import java.util.Objects;
import java.util.Optional;

/** Everything an instance parameters file says: the KVM part, and the resilient part for {@code kvm-resilient}. */
public record InstanceParameters(KvmParameters kvm, Optional<ResilientParameters> resilient) {
    public InstanceParameters {
        Objects.requireNonNull(kvm, "kvm");
        Objects.requireNonNull(resilient, "resilient");
    }
}

package io.resilientkvm.engine.qemu;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.instance.AcceleratorChoice;
import java.nio.file.Files;
import java.nio.file.Path;

/** The accelerator QEMU runs with, and the CPU model that goes with it. */
public enum Accelerator {
    KVM("kvm"),
    TCG("tcg");

    private final String qemuName;

    Accelerator(String qemuName) {
        this.qemuName = qemuName;
    }

    public String qemuName() {
        return qemuName;
    }

    /** KVM when {@code devKvm} can be opened for reading and writing. */
    public static boolean kvmUsable(Path devKvm) {
        return Files.isReadable(devKvm) && Files.isWritable(devKvm);
    }

    /** Resolves the node's choice; never fails for lack of KVM unless KVM was asked for explicitly. */
    public static Accelerator resolve(AcceleratorChoice choice, Path devKvm) throws OperationFailedException {
        return switch (choice) {
            case TCG -> TCG;
            case AUTO -> kvmUsable(devKvm) ? KVM : TCG;
            case KVM -> {
                if (!kvmUsable(devKvm)) {
                    throw new OperationFailedException("qemu.accelerator is kvm but " + devKvm + " is not usable by this user;"
                            + " load the kvm module and grant access to " + devKvm + ", or set qemu.accelerator to auto");
                }
                yield KVM;
            }
        };
    }
}

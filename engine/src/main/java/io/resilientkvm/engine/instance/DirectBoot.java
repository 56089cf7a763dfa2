package io.resilientkvm.engine.instance;

import java.nio.file.Path;
import java.util.Objects;

/**
 * The node configuration's {@code boot}: QEMU loads this kernel and initramfs itself
 * ({@code -kernel}, {@code -initrd}, {@code -append}) instead of booting the main disk. A test
 * and drill fixture (the drill's tiny guest); VMs that users bring boot from their disk.
 *
 * @param kernel  the kernel image
 * @param initrd  the initramfs
 * @param append  the kernel command line
 */
public record DirectBoot(Path kernel, Path initrd, String append) {
    public DirectBoot {
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(initrd, "initrd");
        Objects.requireNonNull(append, "append");
    }
}

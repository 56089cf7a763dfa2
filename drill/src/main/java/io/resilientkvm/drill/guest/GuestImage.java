package io.resilientkvm.drill.guest;

import io.resilientkvm.engine.error.OperatorException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * The tiny Linux guest of the drill and the end-to-end tests: a Debian cloud kernel and an
 * initramfs (busybox, e2fsprogs, the virtio modules, optionally the QEMU guest agent) that
 * QEMU boots directly ({@code -kernel}/{@code -initrd}/{@code -append}). A test and drill
 * fixture, built at first use by {@link GuestImageBuilder} and cached outside the repository.
 *
 * @param directory      the cache folder holding it
 * @param kernel         the kernel image (vmlinuz)
 * @param initrd         the initramfs (cpio newc, gzip)
 * @param kernelPackage  the Debian package the kernel came from, with its version
 * @param guestAgent     true when the initramfs runs {@code qemu-ga}, so backups can be quiesced
 * @param guestAgentNote why there is no agent, when there is none
 */
public record GuestImage(Path directory, Path kernel, Path initrd, String kernelPackage, boolean guestAgent,
        String guestAgentNote) {
    public GuestImage {
        Objects.requireNonNull(directory, "directory");
        Objects.requireNonNull(kernel, "kernel");
        Objects.requireNonNull(initrd, "initrd");
        Objects.requireNonNull(kernelPackage, "kernelPackage");
        Objects.requireNonNull(guestAgentNote, "guestAgentNote");
    }

    /** The guest as cached under the user's cache folder, built first if needed. */
    public static GuestImage obtain(Consumer<String> progress) throws OperatorException {
        return new GuestImageBuilder(GuestImageBuilder.defaultCacheRoot(), progress).obtain();
    }

    /**
     * The kernel command line: serial console, reboot instead of hanging on a panic, and the
     * guest's own options (see the init script).
     *
     * @param httpPort       a second port of the guest's HTTP service besides 80 (0 for none)
     * @param recordsPerSecond the journal writer's rate
     * @param bulk           run the bulk writer too (load)
     */
    public static String append(int httpPort, int recordsPerSecond, boolean bulk) {
        StringBuilder a = new StringBuilder("console=ttyS0 panic=-1 quiet loglevel=4");
        a.append(String.format(Locale.ROOT, " rkvm.rate=%d", recordsPerSecond));
        if (httpPort > 0) {
            a.append(" rkvm.http=").append(httpPort);
        }
        if (bulk) {
            a.append(" rkvm.bulk=1");
        }
        return a.toString();
    }
}

package io.resilientkvm.drill.guest;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.instance.AcceleratorChoice;
import io.resilientkvm.engine.instance.DirectBoot;
import io.resilientkvm.engine.instance.VmHost;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.schemas.JsonDocuments;
import io.resilientkvm.schemas.ParameterValidator;
import io.resilientkvm.schemas.SchemaKind;
import io.resilientkvm.schemas.ValidationReport;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;

/** The tiny guest for the tests: built (or taken from the cache) once per JVM, with its accelerator. */
final class GuestFixture {
    /** TCG boots the guest in 15-30 s here; KVM in a few. */
    static final Duration BOOT = Duration.ofMinutes(4);
    private static GuestImage image;
    private static String accel;

    private GuestFixture() {
    }

    static synchronized GuestImage image() throws Exception {
        if (image == null) {
            image = GuestImage.obtain(System.out::println);
            accel = GuestAccelerator.resolve("auto", image, Files.createTempDirectory("rkvm-kvm-probe-"), System.out::println);
        }
        return image;
    }

    /** A loopback host without VNC whose VMs boot the tiny guest, its HTTP also on {@code guestPort}. */
    static VmHost host(int guestPort) throws Exception {
        GuestImage g = image();
        return new VmHost("127.0.0.1", "", "tap0", "none", Optional.empty(), "qemu-system-x86_64",
                AcceleratorChoice.valueOf(accel.toUpperCase(Locale.ROOT)), Optional.empty())
                .withBoot(new DirectBoot(g.kernel(), g.initrd(), GuestImage.append(guestPort, 10, false)));
    }

    static KvmParameters params(String json) throws Exception {
        ValidationReport r = ParameterValidator.of(SchemaKind.KVM_INSTANCE).validate(JsonDocuments.parseObject(json, "t"));
        assertTrue(r.valid(), r.violations().toString());
        return KvmParameters.fromEffective(r.effective());
    }

    /** A guest port p whose host port 10000 + p is free (nat-rules allow up to 55535). */
    static int freeGuestPort() throws Exception {
        for (int i = 0; i < 50; i++) {
            int port = freePort();
            if (port > 10000 && port - 10000 <= 55535 && port - 10000 != 80) {
                return port - 10000;
            }
        }
        throw new IllegalStateException("no free port above 10000");
    }

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}

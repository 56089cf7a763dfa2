package io.resilientkvm.engine.process;

import java.time.Duration;

/**
 * How a VM is stopped: ACPI power-down for a guest that can shut itself down, then QMP
 * {@code quit} (QEMU then writes persistent dirty bitmaps into the images), then SIGKILL.
 *
 * @param powerdownTimeout wait after {@code system_powerdown}; zero skips it
 * @param quitTimeout      wait after {@code quit}
 * @param killTimeout      wait after SIGKILL
 */
public record StopPolicy(Duration powerdownTimeout, Duration quitTimeout, Duration killTimeout) {
    /** For real guests: give the OS time to shut down. */
    public static final StopPolicy GRACEFUL = new StopPolicy(Duration.ofSeconds(60), Duration.ofSeconds(30), Duration.ofSeconds(10));
    /** Skip the guest: quit at once (bitmaps are still written). */
    public static final StopPolicy QUIT = new StopPolicy(Duration.ZERO, Duration.ofSeconds(30), Duration.ofSeconds(10));

    public StopPolicy {
        for (Duration d : new Duration[] {powerdownTimeout, quitTimeout, killTimeout}) {
            if (d.isNegative()) {
                throw new IllegalArgumentException("stop timeouts must not be negative: " + d);
            }
        }
        if (killTimeout.isZero()) {
            throw new IllegalArgumentException("killTimeout must be positive");
        }
    }
}

package io.resilientkvm.importer.transfer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BackoffTest {
    @Test
    void eachDelayLiesBetweenHalfAndAllOfTheDoubledBaseAndNeverPastTheCap() {
        Backoff b = new Backoff(Duration.ofMillis(100), Duration.ofMillis(1000));
        for (int round = 0; round < 200; round++) {
            for (int n = 1; n <= 40; n++) {
                long ceiling = Math.min(1000, n >= 31 ? 1000 : 100L << (n - 1));
                long d = b.delay(n).toMillis();
                assertTrue(d >= ceiling / 2 && d <= ceiling, "delay " + d + " after " + n + " failures");
            }
        }
    }

    @Test
    void badBoundsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new Backoff(Duration.ofMillis(-1), Duration.ofSeconds(1)));
        assertThrows(IllegalArgumentException.class, () -> new Backoff(Duration.ZERO, Duration.ZERO).delay(0));
    }
}

package io.resilientkvm.exporter.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The 401 hold per address, on a fake clock (the real server's use is in the importer's SlowUnauthenticatedClientsTest). */
class AuthBackoffTest {
    private final AtomicLong now = new AtomicLong();
    private final AuthBackoff backoff = new AuthBackoff(3, Duration.ofSeconds(5), now::get);

    @Test
    void holdsDoubleAfterTheFreeFailuresUpToTheMaximumPerAddress() throws Exception {
        InetAddress a = InetAddress.getByName("192.0.2.1");
        InetAddress b = InetAddress.getByName("192.0.2.2");
        long[] expected = {0, 0, 0, 500, 1000, 2000, 4000, 5000, 5000};
        for (long ms : expected) {
            assertEquals(Duration.ofMillis(ms), backoff.failed(a));
        }
        assertEquals(expected.length, backoff.failures(a));
        // Another address starts from zero.
        assertEquals(Duration.ZERO, backoff.failed(b));
        // Ten minutes without a failure and the address is forgotten.
        now.addAndGet(Duration.ofMinutes(10).plusSeconds(1).toNanos());
        assertEquals(0, backoff.failures(a));
        assertEquals(Duration.ZERO, backoff.failed(a));
        // Huge counts never overflow the doubling.
        assertEquals(Duration.ofSeconds(5), backoff.hold(Integer.MAX_VALUE));
    }

    @Test
    void whenTooManyAddressesFailAtOnceANewOneGetsTheLongestHold() throws Exception {
        AuthBackoff none = new AuthBackoff(0, Duration.ofSeconds(2), now::get);
        byte[] ip = {10, 0, 0, 0};
        for (int i = 0; i < AuthBackoff.MAX_ADDRESSES; i++) {
            ip[2] = (byte) (i >> 8);
            ip[3] = (byte) i;
            none.failed(InetAddress.getByAddress(ip));
        }
        assertEquals(Duration.ofSeconds(2), none.failed(InetAddress.getByName("192.0.2.9")));
        assertEquals(0, none.failures(InetAddress.getByName("192.0.2.9")));
        // Once the old entries are stale they make room again.
        now.addAndGet(Duration.ofMinutes(11).toNanos());
        assertEquals(Duration.ofMillis(500), none.failed(InetAddress.getByName("192.0.2.9")));
    }
}

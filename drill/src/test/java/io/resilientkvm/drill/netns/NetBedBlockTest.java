package io.resilientkvm.drill.netns;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link NetBed#block}: real namespaces, real listeners (a {@link TcpRelay} JVM per host), and a
 * connect from inside a host (bash's {@code /dev/tcp}) to tell what gets through. Root only.
 */
class NetBedBlockTest {
    @TempDir
    Path dir;

    @Test
    void aBlockRefusesOnlyItsTrafficIncludingTheHostsOwnAddressAndClosingLiftsIt() throws Exception {
        assumeTrue(NetBed.isRoot(), NetBed.NEEDS_ROOT);
        try (NetBed bed = NetBed.create(2)) {
            NetBed.Host h1 = bed.host(1);
            NetBed.Host h2 = bed.host(2);
            listen(bed, h1, 7001);
            listen(bed, h2, 7001);
            listen(bed, h2, 7002);
            for (NetBed.Host h : List.of(h1, h2)) {
                await("listeners up").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                        .until(() -> connects(bed, h, h1, 7001) && connects(bed, h, h2, 7001) && connects(bed, h, h2, 7002));
            }

            try (NetBed.Block port = bed.block(h1, NetBed.Traffic.tcpPort(7001))) {
                assertFalse(connects(bed, h1, h2, 7001), "h1 to h2's blocked port");
                assertFalse(connects(bed, h1, h1, 7001), "h1 to its own address on the blocked port");
                assertTrue(connects(bed, h1, h2, 7002), "h1 to another port");
                assertTrue(connects(bed, h2, h1, 7001), "h2 to h1: h1's answers go to h2's own port, not the blocked one");
            }
            assertTrue(connects(bed, h1, h2, 7001), "lifted");

            try (NetBed.Block host = bed.block(h1, NetBed.Traffic.to(h2))) {
                assertFalse(connects(bed, h1, h2, 7002), "h1 to h2");
                assertFalse(connects(bed, h2, h1, 7001), "h2 to h1: h1's answers are refused");
                assertTrue(connects(bed, h1, h1, 7001), "h1 to itself");
                host.close();
                assertTrue(connects(bed, h1, h2, 7002), "lifted");
            }
        }
    }

    private void listen(NetBed bed, NetBed.Host host, int port) throws Exception {
        // The relay's target is never reached: the test only opens connections.
        bed.start(host, NetBed.java(List.of("-Xmx32m"), TcpRelay.class.getName(),
                List.of(host.address(), Integer.toString(port), "127.0.0.1", "9")), dir.resolve(host.name() + "-" + port + ".log"));
    }

    /** Whether a TCP connection from inside {@code from} to {@code to}:{@code port} opens within 3 s. */
    private static boolean connects(NetBed bed, NetBed.Host from, NetBed.Host to, int port) throws Exception {
        List<String> cmd = new ArrayList<>(bed.inside(from));
        cmd.addAll(List.of("timeout", "3", "bash", "-c", "exec 3<>/dev/tcp/" + to.address() + "/" + port));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return false;
        }
        return p.exitValue() == 0;
    }
}

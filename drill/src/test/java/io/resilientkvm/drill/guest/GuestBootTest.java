package io.resilientkvm.drill.guest;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.instance.InstanceLayout;
import io.resilientkvm.engine.instance.KvmInstance;
import io.resilientkvm.engine.instance.VmHost;
import io.resilientkvm.engine.params.KvmParameters;
import io.resilientkvm.engine.process.RestartPolicy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tiny guest booted by the engine (direct kernel boot from the node configuration) on a
 * restricted NAT network, seen from outside (its HTTP service through a nat-rules forward) and
 * from inside (through its guest agent).
 */
class GuestBootTest {
    @TempDir
    Path dir;

    @Test
    void theGuestBootsOnARestrictedNatServesItsJournalOnTheForwardAndReadsItsFilesFrom10_0_2_100() throws Exception {
        int guestPort = GuestFixture.freeGuestPort();
        int httpd = GuestFixture.freePort();
        String data = "drill data 42: " + dir.getFileName();
        String key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGuest test@rkvm";
        KvmParameters p = GuestFixture.params(
                "{\"ram-size\": 256, \"cpu-count\": 1, \"disk-size\": 1, \"use-tap\": false, \"nat-restrict-mode\": true,"
                        + " \"nat-rules\": [" + guestPort + "], \"enable-http-server\": true, \"httpd-port\": " + httpd + ","
                        + " \"data-to-vm\": \"" + data + "\", \"authorized-key\": \"" + key + "\"}");
        VmHost host = GuestFixture.host(guestPort);
        GuestImage image = GuestFixture.image();
        InstanceLayout layout = new InstanceLayout(dir.resolve("vm"));
        int hostPort = 10000 + guestPort;
        try (KvmInstance vm = KvmInstance.prepare("guest", p, host, layout)) {
            assertTrue(vm.argv().stream().anyMatch(a -> a.contains("restrict=on")), vm.argv().toString());
            vm.start(RestartPolicy.NEVER);
            GuestJournal.Record first = await("the guest's HTTP on 127.0.0.1:" + hostPort + " (console: " + layout.log().resolve(
                    "console.log") + ")").atMost(GuestFixture.BOOT).pollInterval(Duration.ofMillis(500))
                    .until(() -> GuestHttp.lastRecord(hostPort, Duration.ofSeconds(5)), Optional::isPresent).orElseThrow();
            assertTrue(first.valid(), first.toString());
            // The journal grows: records are written at a steady rate.
            await().atMost(Duration.ofMinutes(1)).until(() -> GuestHttp.lastRecord(hostPort, Duration.ofSeconds(5))
                    .map(l -> l.seq() > first.seq() + 3).orElse(false));

            byte[] served = GuestHttp.get(hostPort, "/data", Duration.ofSeconds(10)).orElseThrow();
            assertEquals(data, new String(served, StandardCharsets.UTF_8), "data-to-vm as the guest read it from 10.0.2.100");
            GuestJournal.Verdict journal = GuestJournal.verify(GuestHttp.get(hostPort, "/journal/main", Duration.ofSeconds(10))
                    .orElseThrow());
            assertTrue(journal.intact(), journal.problem().toString());
            List<GuestJournal.Record> records = journal.records();
            assertEquals("fsck=new,none", records.get(0).payload(), "first boot makes the filesystem; no external disk");
            assertTrue(records.stream().anyMatch(x -> x.type() == 'D'
                    && x.payload().equals(GuestJournal.payloadOf(data.getBytes(StandardCharsets.UTF_8)))), records.toString());
            assertTrue(records.stream().anyMatch(x -> x.type() == 'K'
                    && x.payload().equals(GuestJournal.payloadOf(key.getBytes(StandardCharsets.UTF_8)))), records.toString());

            // From inside: 10.0.2.100 answers; the host behind the gateway (the same guest file server's
            // port) does not, and neither does any other address: restrict=on.
            Path qga = layout.guestAgentSocket();
            assertTrue(image.guestAgent(), image.guestAgentNote());
            GuestShell.Result ok = GuestShell.run(qga, "timeout 10 wget -q -O - http://10.0.2.100/data", Duration.ofSeconds(30));
            assertEquals(0, ok.exit(), ok.toString());
            assertEquals(data, ok.out());
            GuestShell.Result gateway = GuestShell.run(qga, "timeout 10 wget -q -O - http://10.0.2.2:" + httpd + "/data",
                    Duration.ofSeconds(30));
            assertNotEquals(0, gateway.exit(), "the guest reached the host through the gateway: " + gateway);
            GuestShell.Result other = GuestShell.run(qga, "ip route add default via 10.0.2.2 && timeout 10 nc 198.18.0.1 9 < /dev/null;"
                    + " rc=$?; ip route del default; exit $rc", Duration.ofSeconds(30));
            assertNotEquals(0, other.exit(), "the guest reached 198.18.0.1: " + other);
        }
        assertTrue(Files.exists(layout.log().resolve("console.log")));
    }
}

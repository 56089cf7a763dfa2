package io.resilientkvm.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.instance.NodeConfig;
import io.resilientkvm.engine.zk.Epoch;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.takeover.membership.MemberInfo;
import io.resilientkvm.takeover.membership.Membership;
import io.resilientkvm.takeover.membership.Role;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The backup server's announced address and the main address a clone accepts. */
class AdvertisedTest {
    @TempDir
    Path dir;

    private static NodeConfig.BackupServer server(String bind, Optional<String> advertise) {
        return new NodeConfig.BackupServer(bind, 0, Optional.empty(), Optional.empty(), Optional.empty(), advertise);
    }

    @Test
    void aWildcardBindWithoutAnAdvertisedAddressIsRefusedNamingTheSetting() throws Exception {
        for (String wildcard : new String[] {"0.0.0.0", "::"}) {
            BadInputException e = assertThrows(BadInputException.class, () -> Advertised.requireAdvertisable(server(wildcard, Optional.empty())));
            assertTrue(e.getMessage().contains("backup-server.advertise is not set"), e.getMessage());
        }
        Advertised.requireAdvertisable(server("0.0.0.0", Optional.of("198.18.0.1")));
        Advertised.requireAdvertisable(server("127.0.0.1", Optional.empty()));
    }

    @Test
    void theNodeConfigReadsAdvertiseAndRefusesAWildcardThere() throws Exception {
        Path cfg = dir.resolve("main.json");
        Files.writeString(cfg, """
                {"node": "a", "data-dir": "data", "parameters": "p.json", "backup-server": {"bind": "0.0.0.0", "advertise": "198.18.0.1"}}
                """);
        assertEquals(Optional.of("198.18.0.1"), NodeConfig.load(cfg).backupServer().advertise());
        Files.writeString(cfg, """
                {"node": "a", "data-dir": "data", "parameters": "p.json", "backup-server": {"bind": "0.0.0.0", "advertise": "0.0.0.0"}}
                """);
        BadInputException e = assertThrows(BadInputException.class, () -> NodeConfig.load(cfg));
        assertTrue(e.getMessage().contains("advertise"), e.getMessage());
    }

    @Test
    void theAdvertisedHostIsAnnouncedWithTheBoundSchemeAndPort() {
        URI bound = URI.create("https://127.0.0.1:43211");
        assertEquals(URI.create("https://198.18.0.1:43211"), Advertised.announce(server("0.0.0.0", Optional.of("198.18.0.1")), bound));
        assertEquals(URI.create("https://[2001:db8::1]:43211"), Advertised.announce(server("::", Optional.of("2001:db8::1")), bound));
        assertEquals(bound, Advertised.announce(server("127.0.0.1", Optional.empty()), bound));
    }

    @Test
    void aCloneLocatesTheMainOnlyAtItsConfiguredAddress() throws Exception {
        Files.writeString(dir.resolve("p.json"), "{}");
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                CuratorFramework client = ZkClients.connect(ZkSettings.of(zk.getConnectString()))) {
            Path cfg = dir.resolve("clone.json");
            Files.writeString(cfg, """
                    {"node": "b", "instance": "kvm1", "data-dir": "data", "parameters": "p.json",
                     "zookeeper": {"connect": "%s"},
                     "peers": {"a": {"address": "198.18.0.1"}, "c": {"address": "198.18.0.3"}}}
                    """.formatted(zk.getConnectString()));
            NodeConfig config = NodeConfig.load(cfg);
            assertEquals(Map.of("a", new NodeConfig.Peer("198.18.0.1"), "c", new NodeConfig.Peer("198.18.0.3")), config.peers());
            NodeContext ctx = new NodeContext(config, null, null, client, config.zkLayout());
            Epoch epoch = new Epoch(0, "a", Instant.parse("2026-11-24T10:00:00Z"), 0);
            try (Membership a = Membership.register(client, ctx.layout(), new MemberInfo("a", Role.MAIN, "http://198.18.0.66:7000", 0,
                    Instant.parse("2026-11-24T10:00:00Z")), 10_000)) {
                assertEquals(Optional.empty(), CloneRole.locateMain(ctx, epoch));
                assertTrue(Advertised.refusal(config.peers(), "a", URI.create("http://198.18.0.66:7000")).orElseThrow()
                        .contains("trusts it at 198.18.0.1 only"));
                a.update(new MemberInfo("a", Role.MAIN, "https://198.18.0.1:7000", 0, Instant.parse("2026-11-24T10:00:00Z")));
                assertEquals(Optional.of(URI.create("https://198.18.0.1:7000")), CloneRole.locateMain(ctx, epoch));
            }
            assertTrue(Advertised.refusal(config.peers(), "x", URI.create("https://198.18.0.9:7000")).orElseThrow()
                    .contains("is not among the peers"));
            assertEquals(Optional.empty(), Advertised.refusal(Map.of(), "x", URI.create("http://127.0.0.1:7000")));
        }
    }
}

package io.resilientkvm.importer.service;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.resilientkvm.engine.error.OperationFailedException;
import io.resilientkvm.engine.testing.TestTiming;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The clone's status is stamped by the injected clock, against a real ZooKeeper. */
class ImporterServiceClockTest {
    @TempDir
    Path dir;

    @Test
    void eachRoundStampsThisClonesStatusWithTheInjectedClock() throws Exception {
        ZkLayout layout = new ZkLayout("/rkvm", "vm1");
        Instant t0 = Instant.parse("2026-03-01T10:00:00Z");
        AtomicReference<Instant> now = new AtomicReference<>(t0);
        InstantSource clock = now::get;
        // No epoch is set, so a round imports nothing and never asks for the main or downloads.
        Downloader noDownload = (main, m, repo) -> {
            throw new OperationFailedException("no download expected: " + m);
        };
        MainLocator noMain = epoch -> Optional.empty();
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true);
                CuratorFramework client = ZkClients.connect(ZkSettings.of(zk.getConnectString()));
                ImporterService importer = ImporterService.start(client, layout,
                        new ImporterService.Settings("clone1", dir.resolve("clone1"), Duration.ofHours(1), Duration.ofSeconds(30)),
                        noDownload, noMain, round -> { }, clock)) {
            ImporterStatusStore statuses = new ImporterStatusStore(client, layout);
            await().atMost(TestTiming.scaled(Duration.ofSeconds(20))).until(() -> statuses.read("clone1").isPresent());
            assertEquals(t0, statuses.read("clone1").orElseThrow().updatedAt(), "the first round, at start");

            now.set(t0.plusSeconds(90));
            ImportRound round = importer.reconcileNow();
            assertEquals(-1, round.epoch());
            ImporterStatus status = statuses.read("clone1").orElseThrow();
            assertEquals(t0.plusSeconds(90), status.updatedAt(), "a later round, at the clock's new time");
        }
    }
}

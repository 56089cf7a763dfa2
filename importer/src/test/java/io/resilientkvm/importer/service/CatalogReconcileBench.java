package io.resilientkvm.importer.service;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.curator.test.TestingServer;

/**
 * bench/importer/catalog.sh: a clone's reconcile with 200, 2,000 and 20,000 published (and
 * held) manifests, chains of 200: ZooKeeper reads and time of the first round and of a
 * steady-state round (the best of {@code rounds} measurements).
 */
public final class CatalogReconcileBench {
    private CatalogReconcileBench() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("rkvm-catalog-");
        try (TestingServer zk = new TestingServer(-1, dir.resolve("zk").toFile(), true)) {
            System.out.println("catalog manifests  start-rounds-reads  steady-round-reads  steady-round-ms  downloads");
            for (int chains : new int[] {1, 10, 100}) {
                ReconcileCost c = ReconcileCost.measure(zk.getConnectString(), "c" + chains, dir, chains, 200);
                System.out.printf("catalog %9d  %18d  %18d  %15.1f  %9d%n", c.manifests(), c.firstReads(), c.steadyReads(),
                        c.steadyMillis(), c.downloads());
            }
        }
    }
}

package io.resilientkvm.engine.zk;

import java.io.IOException;
import java.nio.file.Path;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.test.TestingServer;

/** A real ZooKeeper (Curator's TestingServer) and two sessions on it, a main's and a clone's; closes all three. */
final class ZkPair implements AutoCloseable {
    private final TestingServer server;
    private final CuratorFramework main;
    private final CuratorFramework clone;

    private ZkPair(TestingServer server, CuratorFramework main, CuratorFramework clone) {
        this.server = server;
        this.main = main;
        this.clone = clone;
    }

    static ZkPair start(Path dir) throws Exception {
        TestingServer server = new TestingServer(-1, dir.resolve("zk").toFile(), true);
        return new ZkPair(server, ZkClients.connect(ZkSettings.of(server.getConnectString())),
                ZkClients.connect(ZkSettings.of(server.getConnectString())));
    }

    CuratorFramework main() {
        return main;
    }

    CuratorFramework cloneClient() {
        return clone;
    }

    @Override
    public void close() throws IOException {
        clone.close();
        main.close();
        server.close();
    }
}

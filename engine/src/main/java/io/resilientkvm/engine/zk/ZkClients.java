package io.resilientkvm.engine.zk;

import io.resilientkvm.engine.error.OperationFailedException;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;

/**
 * Builds started Curator clients. Keeps Curator's default connection-state error policy on
 * purpose: it drops leadership and ownership at SUSPENDED (the session-only policy let two
 * leaders overlap here; see DESIGN.md).
 */
public final class ZkClients {
    private ZkClients() {}

    /** A started client, connected within {@code settings.connectTimeout()}; the caller closes it. */
    public static CuratorFramework connect(ZkSettings settings) throws OperationFailedException {
        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(settings.connectString())
                .sessionTimeoutMs((int) settings.sessionTimeout().toMillis())
                .connectionTimeoutMs((int) Math.min(settings.connectTimeout().toMillis(), settings.sessionTimeout().toMillis()))
                .retryPolicy(new ExponentialBackoffRetry(200, 5, 3000))
                .ensembleTracker(settings.trackEnsemble())
                .build();
        client.start();
        try {
            if (!client.blockUntilConnected((int) settings.connectTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                client.close();
                throw new OperationFailedException("cannot reach ZooKeeper at " + settings.connectString() + " within "
                        + settings.connectTimeout().toSeconds() + " s: check that it runs and that zookeeper.connect in the node configuration is right");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            client.close();
            throw new OperationFailedException("interrupted while connecting to ZooKeeper at " + settings.connectString(), e);
        }
        return client;
    }
}

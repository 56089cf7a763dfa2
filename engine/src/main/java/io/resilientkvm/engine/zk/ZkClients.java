package io.resilientkvm.engine.zk;

import io.resilientkvm.engine.error.BadInputException;
import io.resilientkvm.engine.error.OperationFailedException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.data.ACL;

/**
 * Builds started Curator clients. Keeps Curator's default connection-state error policy on
 * purpose: it drops leadership and ownership at SUSPENDED (the session-only policy let two
 * leaders overlap here; see DESIGN.md). With {@link ZkSettings#access()} the client authenticates
 * with the instance's identities and creates every znode with their ACLs.
 */
public final class ZkClients {
    private ZkClients() {}

    /**
     * A started client, connected within {@code settings.connectTimeout()}; the caller closes it.
     * With {@link ZkSettings#tls()} it talks TLS through ZooKeeper's Netty socket, configured for
     * this client alone.
     *
     * @throws BadInputException a TLS store or password file that cannot be used
     */
    public static CuratorFramework connect(ZkSettings settings) throws BadInputException, OperationFailedException {
        CuratorFrameworkFactory.Builder builder = CuratorFrameworkFactory.builder();
        settings.access().ifPresent(a -> builder.authorization(a.authInfos()).aclProvider(a.aclProvider()));
        Optional<ZKClientConfig> tls = settings.tls().isPresent() ? Optional.of(settings.tls().get().clientConfig())
                : Optional.empty();
        tls.ifPresent(builder::zkClientConfig);
        CuratorFramework client = builder
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
                String cause = ZkTlsProbe.diagnose(settings.connectString(), tls, settings.connectTimeout())
                        .orElse(tls.isPresent()
                                ? "check that it runs, that zookeeper.connect lists its secure client ports and that zookeeper.tls is right"
                                : "check that it runs and that zookeeper.connect in the node configuration is right");
                throw new OperationFailedException("cannot reach ZooKeeper at " + settings.connectString()
                        + (tls.isPresent() ? " over TLS" : "") + " within " + settings.connectTimeout().toSeconds() + " s: " + cause);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            client.close();
            throw new OperationFailedException("interrupted while connecting to ZooKeeper at " + settings.connectString(), e);
        }
        if (settings.access().isPresent()) {
            try {
                requireOwnInstanceNode(client, settings.access().get());
            } catch (OperationFailedException | RuntimeException e) {
                client.close();
                throw e;
            }
        }
        return client;
    }

    /**
     * Refuses an instance znode that someone else could change: created before ACLs were turned on,
     * or by a client without the instance's identity (squatting the name). Its children would be
     * created under an ACL the instance does not control.
     */
    static void requireOwnInstanceNode(CuratorFramework client, ZkAccess access) throws OperationFailedException {
        String path = access.layout().instancePath();
        List<ACL> acl;
        try {
            acl = client.getACL().forPath(path);
        } catch (KeeperException.NoNodeException e) {
            return; // Created with our ACLs on first use.
        } catch (Exception e) {
            throw new OperationFailedException("cannot read the ACL of " + path + " in ZooKeeper: " + e.getMessage(), e);
        }
        boolean ours = acl.stream().anyMatch(a -> a.getId().equals(access.instanceId()) && a.getPerms() == Perms.ALL);
        boolean othersChange = acl.stream().anyMatch(a -> !a.getId().equals(access.instanceId()) && (a.getPerms() & ~Perms.READ) != 0);
        if (!ours || othersChange) {
            throw new OperationFailedException("the instance's znode " + path + " in ZooKeeper has the ACL " + acl
                    + ", not ALL for " + access.instanceUser() + " only: it was created without the instance's credentials "
                    + "(before ACLs were turned on, or by someone else). Check who made it; an operator with the ensemble's super "
                    + "identity can setAcl it to digest:" + access.instanceId().getId() + ":cdrwa (see docs/zookeeper-layout.md)");
        }
    }
}

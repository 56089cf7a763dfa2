package io.resilientkvm.it.netbed;


import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import io.resilientkvm.engine.error.OperatorException;
import io.resilientkvm.engine.zk.EpochStore;
import io.resilientkvm.engine.zk.ImporterStatus;
import io.resilientkvm.engine.zk.ImporterStatusStore;
import io.resilientkvm.engine.zk.ZkAccess;
import io.resilientkvm.engine.zk.ZkClients;
import io.resilientkvm.engine.zk.ZkLayout;
import io.resilientkvm.engine.zk.ZkSettings;
import io.resilientkvm.engine.zk.ZkTlsStores;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.curator.framework.AuthInfo;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.KeeperException;

/**
 * A ZooKeeper client run inside a bed host's namespace (the test JVM cannot reach the bed's
 * addresses): reads one command per line on stdin, answers one line on stdout, {@code OK [data]}
 * or {@code ERR CODE} (ZooKeeper's {@link KeeperException.Code} name).
 *
 * <pre>create PATH DATA | set PATH DATA | get PATH | delete PATH</pre>
 *
 * Arguments: {@code CONNECT [user:password ...]} (a plain client, authenticated as these digest
 * identities), or {@code --node CONNECT INSTANCE NODE INSTANCE-PASSWORD NODE-PASSWORD}: a node's
 * own client ({@link ZkClients} with {@link ZkAccess}, so its creates carry the instance's ACLs),
 * which also knows {@code epoch-init OWNER}, {@code epoch}, {@code status SEQUENCE} (this node's
 * importer status, through the real stores), {@code newest DEVICE} (the newest published manifest:
 * {@code OK PATH CHAIN SEQUENCE}) and {@code holds NODE DEVICE CHAIN SEQUENCE} ({@code OK true} when
 * NODE's importer status holds that backup or a newer one). Either may be preceded by
 * {@code --tls TRUSTSTORE TRUSTSTORE-PASSWORD-FILE KEYSTORE|- KEYSTORE-PASSWORD-FILE|-}: TLS to the
 * secure client ports ({@link ZkTlsStores}), with that client certificate or none. A client that
 * cannot connect prints {@code ERR CONNECT message} and ends.
 */
public final class ZkShell {
    private ZkShell() {
    }

    public static void main(String[] args) throws Exception {
        Optional<ZkTlsStores> tls = Optional.empty();
        if (args[0].equals("--tls")) {
            tls = Optional.of(new ZkTlsStores(Path.of(args[1]), Path.of(args[2]),
                    args[3].equals("-") ? Optional.empty() : Optional.of(Path.of(args[3])),
                    args[4].equals("-") ? Optional.empty() : Optional.of(Path.of(args[4]))));
            args = Arrays.copyOfRange(args, 5, args.length);
        }
        if (args[0].equals("--node")) {
            ZkLayout layout = new ZkLayout(ZkLayout.DEFAULT_BASE, args[2]);
            ZkAccess access = new ZkAccess(layout, args[3], args[4], args[5]);
            ZkSettings settings = ZkSettings.of(args[1]).withTrackEnsemble(false).withAccess(access);
            try (CuratorFramework client = ZkClients.connect(tls.isPresent() ? settings.withTls(tls.get()) : settings)) {
                run(client, access, new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), System.out);
            }
            return;
        }
        if (tls.isPresent()) {
            // Through the project's client (its TLS configuration and its diagnosis of a refused
            // connection), without any identity: what a stranger holding a certificate would do.
            CuratorFramework client;
            try {
                client = ZkClients.connect(ZkSettings.of(args[0]).withTrackEnsemble(false)
                        .withSessionTimeout(java.time.Duration.ofSeconds(4)).withConnectTimeout(java.time.Duration.ofSeconds(10))
                        .withTls(tls.get()));
            } catch (OperatorException e) {
                System.out.println("ERR CONNECT " + e.getMessage().replaceAll("\\R", " "));
                return;
            }
            try (client) {
                run(client, null, new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), System.out);
            }
            return;
        }
        List<AuthInfo> auth = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            auth.add(new AuthInfo("digest", args[i].getBytes(StandardCharsets.UTF_8)));
        }
        // Few, short retries: an operation on a host without quorum must answer, not hang.
        try (CuratorFramework client = CuratorFrameworkFactory.builder().connectString(args[0])
                .sessionTimeoutMs(4000).connectionTimeoutMs(2000).retryPolicy(new RetryNTimes(2, 200))
                .ensembleTracker(false).authorization(auth).build()) {
            client.start();
            run(client, null, new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), System.out);
        }
    }

    /** Runs the command loop until stdin ends. */
    public static void run(CuratorFramework client, ZkAccess access, BufferedReader in, PrintStream out) throws Exception {
        for (String tagged; (tagged = in.readLine()) != null;) {
            // "ID COMMAND": the answer goes back as "ID ANSWER", so the client matches it to its command.
            int space = tagged.indexOf(' ');
            String id = space < 0 ? tagged : tagged.substring(0, space);
            String line = space < 0 ? "" : tagged.substring(space + 1);
            String[] w = line.strip().split(" ", 3);
            String answer;
            try {
                answer = switch (w[0]) {
                    case "create" -> {
                        client.create().creatingParentsIfNeeded().forPath(w[1], bytes(w[2]));
                        yield "OK";
                    }
                    case "set" -> {
                        client.setData().forPath(w[1], bytes(w[2]));
                        yield "OK";
                    }
                    case "get" -> "OK " + new String(client.getData().forPath(w[1]), StandardCharsets.UTF_8);
                    case "delete" -> {
                        client.delete().forPath(w[1]);
                        yield "OK";
                    }
                    case "epoch-init" -> "OK " + new EpochStore(client, access.layout()).initialize(w[1]).number();
                    case "epoch" -> new EpochStore(client, access.layout()).current()
                            .map(e -> "OK " + e.number() + " " + e.owner()).orElse("ERR NONODE");
                    case "status" -> {
                        ImporterStatus.Point p = new ImporterStatus.Point("virtio0", "20261124T100000.000Z", Integer.parseInt(w[1]),
                                "INC-" + w[1] + ".qcow2", Instant.parse("2026-11-24T10:00:00Z"));
                        new ImporterStatusStore(client, access.layout()).write(
                                new ImporterStatus(access.node(), 0, Instant.now(), List.of(p), 0, null));
                        yield "OK";
                    }
                    case "newest" -> new io.resilientkvm.engine.zk.ManifestCatalog(client, access.layout()).newestPerDevice()
                            .stream().filter(m -> m.device().equals(w[1])).findFirst()
                            .map(m -> "OK " + access.layout().manifestPath(m.device(), m.chainId(), m.sequence()) + " " + m.chainId()
                                    + " " + m.sequence())
                            .orElse("ERR NONODE");
                    case "holds" -> {
                        String[] h = line.strip().split(" ");
                        yield "OK " + new ImporterStatusStore(client, access.layout()).read(h[1]).flatMap(s -> s.point(h[2]))
                                .map(p -> p.atLeast(h[3], Integer.parseInt(h[4]))).orElse(false);
                    }
                    default -> "ERR unknown command: " + line;
                };
            } catch (Exception e) {
                answer = "ERR " + keeperCode(e).orElse(e.getClass().getSimpleName() + ": " + e.getMessage());
            }
            // One line per answer, always: a message with a line break (some exceptions' have one)
            // would leave a line for the next command to read, and every answer after it would be
            // one behind (seen once in ten runs of ZkEnsembleIT: a create answered "OK v2").
            out.println(id + " " + answer.replaceAll("\\R", " "));
            out.flush();
        }
    }

    /** ZooKeeper's code of the first KeeperException in the cause chain (the stores wrap them). */
    private static java.util.Optional<String> keeperCode(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof KeeperException k) {
                return java.util.Optional.of(k.code().name());
            }
        }
        return java.util.Optional.empty();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}

package io.resilientkvm.it.netbed;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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
 * Arguments: {@code CONNECT [user:password ...]} (digest identities to authenticate as).
 */
public final class ZkShell {
    private ZkShell() {
    }

    public static void main(String[] args) throws Exception {
        List<AuthInfo> auth = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            auth.add(new AuthInfo("digest", args[i].getBytes(StandardCharsets.UTF_8)));
        }
        // Few, short retries: an operation on a host without quorum must answer, not hang.
        try (CuratorFramework client = CuratorFrameworkFactory.builder().connectString(args[0])
                .sessionTimeoutMs(4000).connectionTimeoutMs(2000).retryPolicy(new RetryNTimes(2, 200))
                .ensembleTracker(false).authorization(auth).build()) {
            client.start();
            run(client, new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)), System.out);
        }
    }

    /** Runs the command loop until stdin ends. */
    public static void run(CuratorFramework client, BufferedReader in, PrintStream out) throws Exception {
        for (String line; (line = in.readLine()) != null;) {
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
                    default -> "ERR unknown command: " + line;
                };
            } catch (KeeperException e) {
                answer = "ERR " + e.code();
            } catch (Exception e) {
                answer = "ERR " + e.getClass().getSimpleName() + ": " + e.getMessage();
            }
            out.println(answer);
            out.flush();
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}

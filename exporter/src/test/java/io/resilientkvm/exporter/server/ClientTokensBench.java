package io.resilientkvm.exporter.server;

import io.resilientkvm.engine.secret.SecretFiles;
import io.resilientkvm.engine.secret.TestSecrets;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * What the per-request look at the clones' token files costs (docs/backup-server.md): the check
 * with the mtime/size cache (one stat per file looked at) against reading the file every time.
 * Run: {@code java -cp <exporter test classpath> io.resilientkvm.exporter.server.ClientTokensBench [ROUNDS]}.
 */
public final class ClientTokensBench {
    private ClientTokensBench() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        Path dir = Files.createTempDirectory("tokens-bench");
        Path b = dir.resolve("node-b.token");
        Path c = dir.resolve("node-c.token");
        String tokenB = "node-b-token-0123456789abcdef0123456789";
        TestSecrets.write(b, tokenB);
        TestSecrets.write(c, "node-c-token-0123456789abcdef0123456789");
        ClientTokens tokens = ClientTokens.perNode(Map.of("node-b", b, "node-c", c));
        byte[] given = tokenB.getBytes(StandardCharsets.UTF_8);
        for (int pass = 0; pass < 3; pass++) { // the first passes warm the JIT up
            long t0 = System.nanoTime();
            for (int i = 0; i < rounds; i++) {
                require(tokens.check(Optional.of("node-b"), given).accepted());
            }
            long t1 = System.nanoTime();
            for (int i = 0; i < rounds; i++) {
                require(tokens.check(Optional.empty(), given).accepted());
            }
            long t2 = System.nanoTime();
            for (int i = 0; i < rounds; i++) {
                require(SecretFiles.readToken(b, "peers.node-b.token-file").equals(tokenB));
            }
            long t3 = System.nanoTime();
            System.out.printf("pass %d: caller known by certificate (1 stat) %.1f us/request; caller unknown, 2 clones "
                    + "(2 stats) %.1f us; re-reading the file every time %.1f us%n", pass + 1, (t1 - t0) / 1e3 / rounds,
                    (t2 - t1) / 1e3 / rounds, (t3 - t2) / 1e3 / rounds);
        }
        Files.delete(b);
        Files.delete(c);
        Files.delete(dir);
    }

    private static void require(boolean ok) {
        if (!ok) {
            throw new IllegalStateException("the token was refused");
        }
    }
}

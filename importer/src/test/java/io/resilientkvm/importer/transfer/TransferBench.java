package io.resilientkvm.importer.transfer;

import io.resilientkvm.engine.backup.AtomicFiles;
import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupPaths;
import io.resilientkvm.engine.backup.Sha256;
import io.resilientkvm.exporter.server.BackupServer;
import io.resilientkvm.exporter.server.BackupServerSettings;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The JVM side of {@code bench/importer/run.sh} (not a test):
 * {@code prepare FILE} writes the manifest of a FULL backup file that lies at
 * {@code <root>/<device>/<chain>/FULL-<time>.qcow2}; {@code serve ROOT TOKENFILE} runs a backup
 * server and prints {@code PORT <n>} until stdin closes; {@code fetch BASE TOKENFILE MANIFEST
 * CLONE...} fetches the backup into each clone concurrently (one fetcher each) and prints
 * {@code FETCH <seconds>} for all of them together.
 */
public final class TransferBench {
    private TransferBench() {
    }

    public static void main(String[] args) throws Exception {
        TransferTuning.applyToJvm(); // as bin/ does: the figures are of the tuned client
        switch (args[0]) {
            case "prepare" -> prepare(Path.of(args[1]));
            case "serve" -> serve(Path.of(args[1]), Path.of(args[2]));
            case "fetch" -> fetch(URI.create(args[1]), Path.of(args[2]), Path.of(args[3]),
                    List.of(args).subList(4, args.length));
            default -> throw new IllegalArgumentException("prepare | serve | fetch, not " + args[0]);
        }
    }

    private static void prepare(Path file) throws Exception {
        Path chain = file.getParent();
        Instant now = Instant.now();
        BackupManifest m = new BackupManifest(BackupManifest.FORMAT_VERSION, "bench", chain.getParent().getFileName()
                .toString(), chain.getFileName().toString(), 0, BackupManifest.Level.FULL, file.getFileName().toString(),
                null, "bench-bitmap", Files.size(file), Files.size(file), Sha256.of(file), now, now, now, 1, 0, 0);
        BackupPaths.Ref.of(m); // the names must be valid repository names
        AtomicFiles.writeAtomically(BackupManifest.manifestPath(file), m.toJson());
    }

    private static void serve(Path root, Path tokenFile) throws Exception {
        try (BackupServer server = BackupServer.start(BackupServerSettings.loopback(root, tokenFile))) {
            System.out.println("PORT " + server.port());
            System.out.flush();
            while (System.in.read() >= 0) {
                // serve until the script closes our stdin
            }
        }
    }

    private static void fetch(URI base, Path tokenFile, Path manifestFile, List<String> clones) throws Exception {
        BackupManifest m = BackupManifest.read(manifestFile);
        TransferSettings s = TransferSettings.of(base, io.resilientkvm.engine.secret.SecretFiles.readToken(tokenFile, "token file"));
        ExecutorService pool = Executors.newFixedThreadPool(clones.size());
        List<BackupFetcher> fetchers = new ArrayList<>();
        List<Future<FetchResult>> results = new ArrayList<>();
        long t0 = System.nanoTime();
        for (String clone : clones) {
            BackupFetcher f = new BackupFetcher(s);
            fetchers.add(f);
            results.add(pool.submit(() -> f.fetch(m, Path.of(clone))));
        }
        for (Future<FetchResult> r : results) {
            FetchResult fr = r.get();
            if (fr.attempts() != 1 || fr.bytes() != m.fileSize()) {
                throw new IllegalStateException("unexpected result " + fr);
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        fetchers.forEach(BackupFetcher::close);
        pool.shutdown();
        System.out.printf("FETCH %.3f%n", seconds);
    }
}

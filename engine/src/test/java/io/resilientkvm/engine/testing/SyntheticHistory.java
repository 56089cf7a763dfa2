package io.resilientkvm.engine.testing;

import io.resilientkvm.engine.backup.BackupManifest;
import io.resilientkvm.engine.backup.BackupManifest.Level;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/**
 * Manifests of a long history without images behind them (for the catalog's and a reconcile's
 * costs, which depend on the manifests only): {@code chains} chains of {@code perChain} backups,
 * one every {@code every}, named as the exporter names them.
 */
public final class SyntheticHistory {
    private static final DateTimeFormatter NAME = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'")
            .withZone(ZoneOffset.UTC);

    private SyntheticHistory() {
    }

    /** Backup {@code seq} of chain number {@code chain}, the history starting at {@code start}. */
    public static BackupManifest manifest(String device, Instant start, Duration every, int perChain, int chain, int seq,
            long epoch) {
        Instant chainStart = start.plus(every.multipliedBy((long) chain * perChain));
        Instant t = chainStart.plus(every.multipliedBy(seq));
        String chainId = NAME.format(chainStart);
        String file = (seq == 0 ? "FULL-" : "INC-") + NAME.format(t) + ".qcow2";
        String parent = seq == 0 ? null : (seq == 1 ? "FULL-" : "INC-") + NAME.format(t.minus(every)) + ".qcow2";
        return new BackupManifest(BackupManifest.FORMAT_VERSION, "demo", device, chainId, seq, seq == 0 ? Level.FULL
                : Level.INC, file, parent, "qmpbackup-" + device + "-" + chainId, 1 << 20, 4096,
                String.format("%064x", (long) chain * 1_000_003 + seq), t, t, t, epoch, 4096, 10);
    }

    /** The whole history, oldest first. */
    public static List<BackupManifest> of(String device, Instant start, Duration every, int chains, int perChain,
            long epoch) {
        List<BackupManifest> all = new ArrayList<>(chains * perChain);
        for (int c = 0; c < chains; c++) {
            for (int s = 0; s < perChain; s++) {
                all.add(manifest(device, start, every, perChain, c, s, epoch));
            }
        }
        return all;
    }
}
